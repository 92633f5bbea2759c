/// Layer normalization over the last axis (`CPUBackend+LayerNorm.swift`): one block per row,
/// two passes (mean, then squared deviations) as on the CPU; parameter gradients are column sums
/// over rows by blocks of 32 columns × 8 row lanes.
enum LayerNormKernels {
    static let source = KernelSource(name: "layernorm", body: #"""
/// y = (x − mean)·rstd·w + b per row; `w`, `b` may be null.
extern "C" __global__ void kiln_layer_norm(float* y, float* mean, float* rstd, const float* x, const float* w,
                                           const float* b, i64 rows, int cols, float eps) {
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* xr = x + r * cols;
        float* yr = y + r * cols;
        float s = 0.0f;
        for (int j = threadIdx.x; j < cols; j += blockDim.x) s += xr[j];
        const float mu = kiln_block_sum(s) / (float)cols;
        float q = 0.0f;
        for (int j = threadIdx.x; j < cols; j += blockDim.x) { float d = xr[j] - mu; q += d * d; }
        const float rs = 1.0f / sqrtf(kiln_block_sum(q) / (float)cols + eps);
        if (threadIdx.x == 0) { mean[r] = mu; rstd[r] = rs; }
        for (int j = threadIdx.x; j < cols; j += blockDim.x) {
            float v = (xr[j] - mu) * rs;
            if (w) v *= w[j];
            if (b) v += b[j];
            yr[j] = v;
        }
    }
}

/// dx = rs·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) with ĝ = dy·w, x̂ = (x − mean)·rs.
extern "C" __global__ void kiln_layer_norm_backward(float* dx, const float* x, const float* w, const float* mean,
                                                    const float* rstd, const float* g, i64 rows, int cols) {
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* xr = x + r * cols;
        const float* gr = g + r * cols;
        float* dr = dx + r * cols;
        const float mu = mean[r], rs = rstd[r];
        float a = 0.0f, b = 0.0f;
        for (int j = threadIdx.x; j < cols; j += blockDim.x) {
            float gh = w ? gr[j] * w[j] : gr[j];
            a += gh;
            b += gh * ((xr[j] - mu) * rs);
        }
        const float ma = kiln_block_sum(a) / (float)cols, mb = kiln_block_sum(b) / (float)cols;
        for (int j = threadIdx.x; j < cols; j += blockDim.x) {
            float gh = w ? gr[j] * w[j] : gr[j];
            dr[j] = rs * (gh - ma - (xr[j] - mu) * rs * mb);
        }
    }
}

/// dw[j] = Σ_r dy·x̂, db[j] = Σ_r dy (either may be null). Block (32, 8): 32 columns, 8 row lanes.
extern "C" __global__ void kiln_layer_norm_params(float* dw, float* db, const float* x, const float* mean,
                                                  const float* rstd, const float* g, i64 rows, int cols) {
    __shared__ float sw[8][33];
    __shared__ float sb[8][33];
    const int j = blockIdx.x * 32 + threadIdx.x;
    float aw = 0.0f, ab = 0.0f;
    if (j < cols) {
        for (i64 r = threadIdx.y; r < rows; r += blockDim.y) {
            float gv = g[r * cols + j];
            aw += gv * ((x[r * cols + j] - mean[r]) * rstd[r]);
            ab += gv;
        }
    }
    sw[threadIdx.y][threadIdx.x] = aw;
    sb[threadIdx.y][threadIdx.x] = ab;
    __syncthreads();
    if (threadIdx.y == 0 && j < cols) {
        for (int k = 1; k < blockDim.y; ++k) { aw += sw[k][threadIdx.x]; ab += sb[k][threadIdx.x]; }
        if (dw) dw[j] = aw;
        if (db) db[j] = ab;
    }
}
"""#, entries: ["kiln_layer_norm", "kiln_layer_norm_backward", "kiln_layer_norm_params"])
}
