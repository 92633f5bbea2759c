/// 2-D pooling of `planes` images (`CPUBackend+Pool.swift`, `Pool2dGeometry`): one thread per
/// output; the backward passes scatter with atomic adds into a zeroed `dx` (windows may overlap).
enum PoolKernels {
    static let source = KernelSource(name: "pool", body: #"""
/// Window `i` along an axis: input range [lo, hi) and the average's divisor (PyTorch's rules).
__device__ __forceinline__ void kiln_window(int i, int size, int out, int k, int s, int p, int adaptive,
                                            int* lo, int* hi, int* extent) {
    if (adaptive) {
        *lo = (int)((i64)i * size / out);
        *hi = (int)(((i64)(i + 1) * size + out - 1) / out);
        *extent = *hi - *lo;
        return;
    }
    const int start = i * s - p, end = min(start + k, size + p);
    *lo = max(start, 0);
    *hi = min(end, size);
    *extent = end - start;
}

/// Output e's plane and its window in that plane (rows y0..<y1, columns x0..<x1, divisor ey·ex).
__device__ __forceinline__ i64 kiln_pool_window(i64 e, int H, int W, int OH, int OW, int kh, int kw, int sh, int sw,
                                                int ph, int pw, int adaptive, int* y0, int* y1, int* x0, int* x1,
                                                int* divisor) {
    const int ox = (int)(e % OW), oy = (int)((e / OW) % OH);
    int ey, ex;
    kiln_window(oy, H, OH, kh, sh, ph, adaptive, y0, y1, &ey);
    kiln_window(ox, W, OW, kw, sw, pw, adaptive, x0, x1, &ex);
    *divisor = ey * ex;
    return e / ((i64)OH * OW);
}

/// Max of each window (first in row-major order on ties, NaN wins) and its index in the plane.
extern "C" __global__ void kiln_max_pool(float* y, float* indices, const float* x, i64 planes, int H, int W,
                                         int OH, int OW, int kh, int kw, int sh, int sw, int ph, int pw) {
    KILN_FOR(e, planes * OH * OW) {
        int y0, y1, x0, x1, divisor;
        const i64 plane = kiln_pool_window(e, H, W, OH, OW, kh, kw, sh, sw, ph, pw, 0, &y0, &y1, &x0, &x1, &divisor);
        const float* p = x + plane * H * W;
        float best = -kiln_inf();
        int at = y0 * W + x0;
        for (int iy = y0; iy < y1; ++iy)
            for (int ix = x0; ix < x1; ++ix) {
                const float v = p[iy * W + ix];
                if (v > best || kiln_isnan(v)) { best = v; at = iy * W + ix; }
            }
        y[e] = best;
        indices[e] = (float)at;
    }
}

/// dx[plane, indices[e]] += dy[e] (dx zeroed by the caller).
extern "C" __global__ void kiln_max_pool_backward(float* dx, const float* dy, const float* indices, i64 planes,
                                                  int H, int W, int OH, int OW) {
    KILN_FOR(e, planes * OH * OW) {
        const i64 plane = e / ((i64)OH * OW);
        atomicAdd(dx + plane * H * W + (i64)indices[e], dy[e]);
    }
}

extern "C" __global__ void kiln_avg_pool(float* y, const float* x, i64 planes, int H, int W, int OH, int OW,
                                         int kh, int kw, int sh, int sw, int ph, int pw, int adaptive) {
    KILN_FOR(e, planes * OH * OW) {
        int y0, y1, x0, x1, divisor;
        const i64 plane = kiln_pool_window(e, H, W, OH, OW, kh, kw, sh, sw, ph, pw, adaptive, &y0, &y1, &x0, &x1, &divisor);
        const float* p = x + plane * H * W;
        float s = 0.0f;
        for (int iy = y0; iy < y1; ++iy)
            for (int ix = x0; ix < x1; ++ix) s += p[iy * W + ix];
        y[e] = s / (float)divisor;
    }
}

/// Spreads dy[e] / window size over its window (dx zeroed by the caller).
extern "C" __global__ void kiln_avg_pool_backward(float* dx, const float* dy, i64 planes, int H, int W, int OH, int OW,
                                                  int kh, int kw, int sh, int sw, int ph, int pw, int adaptive) {
    KILN_FOR(e, planes * OH * OW) {
        int y0, y1, x0, x1, divisor;
        const i64 plane = kiln_pool_window(e, H, W, OH, OW, kh, kw, sh, sw, ph, pw, adaptive, &y0, &y1, &x0, &x1, &divisor);
        const float v = dy[e] / (float)divisor;
        float* p = dx + plane * H * W;
        for (int iy = y0; iy < y1; ++iy)
            for (int ix = x0; ix < x1; ++ix) atomicAdd(p + iy * W + ix, v);
    }
}
"""#, entries: ["kiln_max_pool", "kiln_max_pool_backward", "kiln_avg_pool", "kiln_avg_pool_backward"])
}
