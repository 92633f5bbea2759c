/// Reductions (`CPUBackend+Reduce.swift`): each output element combines the input elements over
/// the reduced axes. The host splits the input's axes into kept ones (the output's non-zero
/// strides) and reduced ones; `kiln_reduce_block` gives each output a block (long reductions),
/// `kiln_reduce_thread` a thread (many short ones), and `kiln_reduce_columns` +
/// `kiln_reduce_partials` handle outputs that are dense columns of the input (a bias gradient: the
/// sum over rows), reading whole rows at a time. Op codes: 0 sum, 1 max, 2 min (NaN wins).
enum ReduceKernels {
    static let source = KernelSource(name: "reduce", body: #"""
#define KILN_SHAPE_R int rrank, i64 r0, i64 r1, i64 r2, i64 r3, i64 r4, i64 r5, i64 r6, i64 r7

__device__ __forceinline__ float kiln_combine(int op, float acc, float v) {
    return op == 0 ? acc + v : (op == 1 ? kiln_max_nan(acc, v) : kiln_min_nan(acc, v));
}
__device__ __forceinline__ float kiln_identity(int op) {
    return op == 0 ? 0.0f : (op == 1 ? -kiln_inf() : kiln_inf());
}

/// One block per output: kept axes (`shape`, input strides `a`, output strides `b`), reduced
/// axes (`r*`, input strides `c`) with `inner` elements in all.
extern "C" __global__ void kiln_reduce_block(int op, float* out, const float* x, i64 outputs, i64 inner,
                                             KILN_SHAPE, KILN_STRIDES(a), KILN_STRIDES(b),
                                             KILN_SHAPE_R, KILN_STRIDES(c)) {
    KILN_GATHER_SHAPE(shape); KILN_GATHER(sx, a); KILN_GATHER(so, b);
    const i64 rshape[8] = {r0, r1, r2, r3, r4, r5, r6, r7};
    KILN_GATHER(sr, c);
    for (i64 o = blockIdx.x; o < outputs; o += gridDim.x) {
        i64 ox, oo;
        kiln_offset2(o, rank, shape, sx, so, &ox, &oo);
        float acc = kiln_identity(op);
        for (i64 j = threadIdx.x; j < inner; j += blockDim.x)
            acc = kiln_combine(op, acc, x[ox + kiln_offset(j, rrank, rshape, sr)]);
        acc = kiln_block_reduce(acc, op);
        if (threadIdx.x == 0) out[oo] = acc;
    }
}

/// One thread per output, same parameters as `kiln_reduce_block`.
extern "C" __global__ void kiln_reduce_thread(int op, float* out, const float* x, i64 outputs, i64 inner,
                                              KILN_SHAPE, KILN_STRIDES(a), KILN_STRIDES(b),
                                              KILN_SHAPE_R, KILN_STRIDES(c)) {
    KILN_GATHER_SHAPE(shape); KILN_GATHER(sx, a); KILN_GATHER(so, b);
    const i64 rshape[8] = {r0, r1, r2, r3, r4, r5, r6, r7};
    KILN_GATHER(sr, c);
    KILN_FOR(o, outputs) {
        i64 ox, oo;
        kiln_offset2(o, rank, shape, sx, so, &ox, &oo);
        float acc = kiln_identity(op);
        for (i64 j = 0; j < inner; ++j) acc = kiln_combine(op, acc, x[ox + kiln_offset(j, rrank, rshape, sr)]);
        out[oo] = acc;
    }
}

/// Columns blockIdx.x·32 ..< +32 (input stride 1) over rows blockIdx.y·chunk ..< +chunk of the
/// reduced axes: partial[blockIdx.y, column]. Block (32, 8).
extern "C" __global__ void kiln_reduce_columns(int op, float* partial, const float* x, i64 cols, i64 inner, i64 chunk,
                                               KILN_SHAPE_R, KILN_STRIDES(c)) {
    __shared__ float part[8][33];
    const i64 rshape[8] = {r0, r1, r2, r3, r4, r5, r6, r7};
    KILN_GATHER(sr, c);
    const i64 j = (i64)blockIdx.x * 32 + threadIdx.x;
    const i64 first = (i64)blockIdx.y * chunk, last = min(first + chunk, inner);
    float acc = kiln_identity(op);
    if (j < cols)
        for (i64 r = first + threadIdx.y; r < last; r += blockDim.y)
            acc = kiln_combine(op, acc, x[kiln_offset(r, rrank, rshape, sr) + j]);
    part[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && j < cols) {
        for (int k = 1; k < blockDim.y; ++k) acc = kiln_combine(op, acc, part[k][threadIdx.x]);
        partial[(i64)blockIdx.y * cols + j] = acc;
    }
}

/// out[j·outStride] = the combination of partial[0..<parts, j], in order.
extern "C" __global__ void kiln_reduce_partials(int op, float* out, i64 outStride, const float* partial, i64 cols,
                                                int parts) {
    KILN_FOR(j, cols) {
        float acc = partial[j];
        for (int p = 1; p < parts; ++p) acc = kiln_combine(op, acc, partial[(i64)p * cols + j]);
        out[j * outStride] = acc;
    }
}

/// Index of the largest of `n` elements `step` apart (first on ties, first NaN wins) for each
/// output `o`, whose first element is at the offset of `o` in the outer axes.
extern "C" __global__ void kiln_argmax(float* out, const float* x, i64 outputs, i64 n, i64 step,
                                       KILN_SHAPE, KILN_STRIDES(a)) {
    KILN_GATHER_SHAPE(shape); KILN_GATHER(sx, a);
    KILN_FOR(o, outputs) {
        const float* p = x + kiln_offset(o, rank, shape, sx);
        i64 best = 0;
        float bestValue = p[0];
        for (i64 i = 1; i < n; ++i) {
            float v = p[i * step];
            if (v > bestValue || (kiln_isnan(v) && !kiln_isnan(bestValue))) { best = i; bestValue = v; }
        }
        out[o] = (float)best;
    }
}
"""#, entries: ["kiln_reduce_block", "kiln_reduce_thread", "kiln_reduce_columns", "kiln_reduce_partials",
                "kiln_argmax"])
}
