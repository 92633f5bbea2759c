/// Convolution helpers (the products run on cuBLAS): im2col and its adjoint col2im for a chunk of
/// S samples, and the transposes between NCHW and the `[C, S, plane]` product layout.
///
/// The column matrix of a chunk is `[groups][patch][S·plane]` (patch = Cin/groups·kh·kw, plane =
/// outH·outW): row (c, ky, kx) of group g, column s·plane + oy·outW + ox holds
/// x[s, g·Cin/groups + c, oy·sh − ph + ky·dh, ox·sw − pw + kx·dw] (0 outside the image).
enum ConvKernels {
    static let source = KernelSource(name: "conv", body: #"""
extern "C" __global__ void kiln_im2col(float* col, const float* x, int S, int C, int H, int W, int groups, int kh, int kw,
                                       int sh, int sw, int ph, int pw, int dh, int dw, int oh, int ow) {
    const int cinG = C / groups;
    const i64 plane = (i64)oh * ow, cols = (i64)S * plane, patch = (i64)cinG * kh * kw;
    KILN_FOR(e, (i64)groups * patch * cols) {
        const i64 row = e / cols, column = e - row * cols;
        const int g = (int)(row / patch), p = (int)(row - g * patch);
        const int s = (int)(column / plane), o = (int)(column - s * plane);
        const int cl = p / (kh * kw), kk = p - cl * (kh * kw), ky = kk / kw, kx = kk - ky * kw;
        const int oy = o / ow, ox = o - oy * ow;
        const int iy = oy * sh - ph + ky * dh, ix = ox * sw - pw + kx * dw;
        const int c = g * cinG + cl;
        col[e] = (iy >= 0 && iy < H && ix >= 0 && ix < W) ? x[(((i64)s * C + c) * H + iy) * W + ix] : 0.0f;
    }
}

/// dx[s, c, iy, ix] = Σ of the column entries that im2col read from it (a gather: no atomics).
extern "C" __global__ void kiln_col2im(float* dx, const float* col, int S, int C, int H, int W, int groups, int kh, int kw,
                                       int sh, int sw, int ph, int pw, int dh, int dw, int oh, int ow) {
    const int cinG = C / groups;
    const i64 plane = (i64)oh * ow, cols = (i64)S * plane, patch = (i64)cinG * kh * kw;
    KILN_FOR(e, (i64)S * C * H * W) {
        const int ix = (int)(e % W), iy = (int)((e / W) % H), c = (int)((e / ((i64)W * H)) % C);
        const int s = (int)(e / ((i64)W * H * C));
        const int g = c / cinG, cl = c - g * cinG;
        float sum = 0.0f;
        for (int ky = 0; ky < kh; ++ky) {
            const int ty = iy + ph - ky * dh;
            if (ty < 0 || ty % sh != 0) continue;
            const int oy = ty / sh;
            if (oy >= oh) continue;
            for (int kx = 0; kx < kw; ++kx) {
                const int tx = ix + pw - kx * dw;
                if (tx < 0 || tx % sw != 0) continue;
                const int ox = tx / sw;
                if (ox >= ow) continue;
                const i64 p = ((i64)cl * kh + ky) * kw + kx;
                sum += col[((i64)g * patch + p) * cols + (i64)s * plane + (i64)oy * ow + ox];
            }
        }
        dx[e] = sum;
    }
}

/// out[s, c, p] = t[c, s, p] + bias[c] (bias may be null).
extern "C" __global__ void kiln_cnhw_to_nchw(float* out, const float* t, const float* bias, int S, int C, i64 plane) {
    KILN_FOR(e, (i64)S * C * plane) {
        const i64 p = e % plane, sc = e / plane;
        const int c = (int)(sc % C), s = (int)(sc / C);
        out[e] = t[((i64)c * S + s) * plane + p] + (bias ? bias[c] : 0.0f);
    }
}

/// t[c, s, p] = x[s, c, p].
extern "C" __global__ void kiln_nchw_to_cnhw(float* t, const float* x, int S, int C, i64 plane) {
    KILN_FOR(e, (i64)S * C * plane) {
        const i64 p = e % plane, cs = e / plane;
        const int s = (int)(cs % S), c = (int)(cs / S);
        t[e] = x[((i64)s * C + c) * plane + p];
    }
}

/// out[c] = Σ_{n, p} x[n, c, p]; one block per channel.
extern "C" __global__ void kiln_channel_sum(float* out, const float* x, int N, int C, i64 plane) {
    for (int c = blockIdx.x; c < C; c += gridDim.x) {
        float s = 0.0f;
        for (i64 e = threadIdx.x; e < (i64)N * plane; e += blockDim.x) {
            const i64 n = e / plane;
            s += x[(n * C + c) * plane + (e - n * plane)];
        }
        s = kiln_block_sum(s);
        if (threadIdx.x == 0) out[c] = s;
    }
}
"""#, entries: ["kiln_im2col", "kiln_col2im", "kiln_cnhw_to_nchw", "kiln_nchw_to_cnhw", "kiln_channel_sum"])
}
