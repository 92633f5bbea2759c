/// Copy, fill, unary, unary-backward and binary kernels over strided views. Op codes are the
/// `UnaryOp` / `BinaryOp` codes of `CUDABackend+Elementwise.swift`; each formula mirrors the CPU
/// backend's (`CPUBackend+Elementwise.swift`), with libdevice's exact functions in place of the
/// CPU's vector approximations.
enum ElementwiseKernels {
    static let source = KernelSource(name: "elementwise", body: #"""
__device__ __forceinline__ float kiln_unary_f(int op, float x) {
    switch (op) {
    case 0: return -x;
    case 1: return expf(x);
    case 2: return logf(x);
    case 3: return sqrtf(x);
    case 4: return fabsf(x);
    case 5: return tanhf(x);
    case 6: return 1.0f / (1.0f + expf(-x));
    case 7: return x > 0.0f ? x : 0.0f;
    case 8: return x * 0.5f * (1.0f + erff(x * 0.70710677f));
    case 9: return 0.5f * x * (1.0f + tanhf(0.79788456f * (x + 0.044715f * x * x * x)));
    case 10: return x * x;
    default: return 1.0f / x;
    }
}

/// dx = dy·f'(x) from the input `x` and output `y`.
__device__ __forceinline__ float kiln_unary_backward_f(int op, float x, float y, float g) {
    switch (op) {
    case 0: return -g;
    case 1: return g * y;
    case 2: return g / x;
    case 3: return g * 0.5f / y;
    case 4: return x > 0.0f ? g : (x < 0.0f ? -g : 0.0f);
    case 5: return g * (1.0f - y * y);
    case 6: return g * y * (1.0f - y);
    case 7: return x > 0.0f ? g : 0.0f;
    case 8: {
        float cdf = 0.5f * (1.0f + erff(x * 0.70710677f));
        float pdf = 0.39894228f * expf(-0.5f * x * x);
        return g * (cdf + x * pdf);
    }
    case 9: {
        float t = tanhf(0.79788456f * (x + 0.044715f * x * x * x));
        float dInner = 0.79788456f * (1.0f + 3.0f * 0.044715f * x * x);
        return g * (0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * dInner);
    }
    case 10: return 2.0f * x * g;
    default: return -g * y * y;
    }
}

__device__ __forceinline__ float kiln_binary_f(int op, float a, float b) {
    switch (op) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    case 3: return a / b;
    case 4: return b == 2.0f ? a * a : powf(a, b);
    case 5: return a > b ? a : b;
    case 6: return a < b ? a : b;
    case 7: return a == b ? 1.0f : 0.0f;
    case 8: return a != b ? 1.0f : 0.0f;
    case 9: return a < b ? 1.0f : 0.0f;
    case 10: return a <= b ? 1.0f : 0.0f;
    case 11: return a > b ? 1.0f : 0.0f;
    default: return a >= b ? 1.0f : 0.0f;
    }
}

/// dst[view] = src[view] (same shape; pointers at each view's first element).
extern "C" __global__ void kiln_copy(float* dst, const float* src, i64 n, KILN_SHAPE, KILN_STRIDES(a), KILN_STRIDES(b)) {
    KILN_GATHER_SHAPE(shape); KILN_GATHER(sd, a); KILN_GATHER(ss, b);
    KILN_FOR(i, n) {
        i64 od, os;
        kiln_offset2(i, rank, shape, sd, ss, &od, &os);
        dst[od] = src[os];
    }
}

extern "C" __global__ void kiln_fill(float* dst, float value, i64 n, KILN_SHAPE, KILN_STRIDES(a)) {
    KILN_GATHER_SHAPE(shape); KILN_GATHER(sd, a);
    KILN_FOR(i, n) dst[kiln_offset(i, rank, shape, sd)] = value;
}

/// out (dense) = f(x[view]).
extern "C" __global__ void kiln_unary(int op, float* out, const float* x, i64 n, KILN_SHAPE, KILN_STRIDES(a)) {
    KILN_GATHER_SHAPE(shape); KILN_GATHER(sx, a);
    KILN_FOR(i, n) out[i] = kiln_unary_f(op, x[kiln_offset(i, rank, shape, sx)]);
}

/// dx = dy·f'(x), all dense.
extern "C" __global__ void kiln_unary_backward(int op, float* dx, const float* x, const float* y, const float* g, i64 n) {
    KILN_FOR(i, n) dx[i] = kiln_unary_backward_f(op, x[i], y[i], g[i]);
}

/// out (dense) = a[view] op b[view].
extern "C" __global__ void kiln_binary(int op, float* out, const float* a, const float* b, i64 n, KILN_SHAPE,
                                       KILN_STRIDES(a), KILN_STRIDES(b)) {
    KILN_GATHER_SHAPE(shape); KILN_GATHER(sa, a); KILN_GATHER(sb, b);
    KILN_FOR(i, n) {
        i64 oa, ob;
        kiln_offset2(i, rank, shape, sa, sb, &oa, &ob);
        out[i] = kiln_binary_f(op, a[oa], b[ob]);
    }
}

/// out (dense) = a[view] op s, or s op a[view] when `scalarFirst`.
extern "C" __global__ void kiln_binary_scalar(int op, float* out, const float* a, float s, int scalarFirst, i64 n,
                                              KILN_SHAPE, KILN_STRIDES(a)) {
    KILN_GATHER_SHAPE(shape); KILN_GATHER(sa, a);
    KILN_FOR(i, n) {
        float v = a[kiln_offset(i, rank, shape, sa)];
        out[i] = scalarFirst ? kiln_binary_f(op, s, v) : kiln_binary_f(op, v, s);
    }
}
"""#, entries: ["kiln_copy", "kiln_fill", "kiln_unary", "kiln_unary_backward", "kiln_binary", "kiln_binary_scalar"])
}
