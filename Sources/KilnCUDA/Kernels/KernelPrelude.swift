/// Definitions every kernel source starts with (NVRTC compiles without the CUDA headers, so
/// nothing is included): 64-bit index types, strided-offset arithmetic and block reductions.
///
/// Strided kernels take a rank (≤ 8), 8 sizes and 8 strides per operand as separate `long long`
/// parameters (`KILN_SHAPE`, `KILN_STRIDES(p)`), gathered into local arrays by `KILN_GATHER*`:
/// kernel parameters are copied at launch, so no host array has to outlive the call.
/// Reductions assume `blockDim.x` is a multiple of 32 (at most 1024).
enum KernelPrelude {
    static let source = #"""
typedef long long i64;
#define KILN_SHAPE int rank, i64 d0, i64 d1, i64 d2, i64 d3, i64 d4, i64 d5, i64 d6, i64 d7
#define KILN_STRIDES(p) i64 p##0, i64 p##1, i64 p##2, i64 p##3, i64 p##4, i64 p##5, i64 p##6, i64 p##7
#define KILN_GATHER_SHAPE(name) const i64 name[8] = {d0, d1, d2, d3, d4, d5, d6, d7}
#define KILN_GATHER(name, p) const i64 name[8] = {p##0, p##1, p##2, p##3, p##4, p##5, p##6, p##7}
#define KILN_FOR(i, n) for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)blockDim.x * gridDim.x)

__device__ __forceinline__ float kiln_inf() { return __int_as_float(0x7f800000); }
__device__ __forceinline__ bool kiln_isnan(float v) { return v != v; }

/// Offset of row-major element `i` of `shape` (first `rank` axes) under `st`.
__device__ __forceinline__ i64 kiln_offset(i64 i, int rank, const i64* shape, const i64* st) {
    if (rank == 1) return i * st[0];
    i64 o = 0;
    for (int k = rank - 1; k >= 0; --k) {
        i64 q = i / shape[k];
        o += (i - q * shape[k]) * st[k];
        i = q;
    }
    return o;
}

/// Offsets of element `i` under two stride sets sharing one shape.
__device__ __forceinline__ void kiln_offset2(i64 i, int rank, const i64* shape, const i64* sa, const i64* sb,
                                             i64* oa, i64* ob) {
    if (rank == 1) { *oa = i * sa[0]; *ob = i * sb[0]; return; }
    i64 a = 0, b = 0;
    for (int k = rank - 1; k >= 0; --k) {
        i64 q = i / shape[k];
        i64 r = i - q * shape[k];
        a += r * sa[k];
        b += r * sb[k];
        i = q;
    }
    *oa = a; *ob = b;
}

__device__ __forceinline__ float kiln_warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ double kiln_warp_sum_d(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
/// Larger of two, NaN winning (as the CPU's row maxima).
__device__ __forceinline__ float kiln_max_nan(float a, float b) { return (b > a || kiln_isnan(b)) ? b : a; }
__device__ __forceinline__ float kiln_min_nan(float a, float b) { return (b < a || kiln_isnan(b)) ? b : a; }
__device__ __forceinline__ float kiln_warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = kiln_max_nan(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
__device__ __forceinline__ float kiln_warp_min(float v) {
    for (int o = 16; o > 0; o >>= 1) v = kiln_min_nan(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/// Combines one value per thread of the block with `op` (0 sum, 1 max, 2 min); every thread gets the result.
__device__ float kiln_block_reduce(float v, int op) {
    __shared__ float part[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    v = op == 0 ? kiln_warp_sum(v) : (op == 1 ? kiln_warp_max(v) : kiln_warp_min(v));
    __syncthreads();
    if (lane == 0) part[warp] = v;
    __syncthreads();
    if (warp == 0) {
        float identity = op == 0 ? 0.0f : (op == 1 ? -kiln_inf() : kiln_inf());
        float w = lane < warps ? part[lane] : identity;
        w = op == 0 ? kiln_warp_sum(w) : (op == 1 ? kiln_warp_max(w) : kiln_warp_min(w));
        if (lane == 0) part[0] = w;
    }
    __syncthreads();
    float r = part[0];
    __syncthreads();
    return r;
}
__device__ __forceinline__ float kiln_block_sum(float v) { return kiln_block_reduce(v, 0); }
__device__ __forceinline__ float kiln_block_max(float v) { return kiln_block_reduce(v, 1); }

__device__ double kiln_block_sum_d(double v) {
    __shared__ double part[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    v = kiln_warp_sum_d(v);
    __syncthreads();
    if (lane == 0) part[warp] = v;
    __syncthreads();
    if (warp == 0) {
        double w = lane < warps ? part[lane] : 0.0;
        w = kiln_warp_sum_d(w);
        if (lane == 0) part[0] = w;
    }
    __syncthreads();
    double r = part[0];
    __syncthreads();
    return r;
}

__device__ __forceinline__ float kiln_sigmoid(float x) { return 0.5f * tanhf(0.5f * x) + 0.5f; }

"""#
}
