/// Row softmax / log-softmax and cross-entropy (`CPUBackend+Softmax.swift`): one block per row of
/// a dense `[rows, cols]` matrix, reductions by warp shuffles.
enum SoftmaxKernels {
    static let source = KernelSource(name: "softmax", body: #"""
/// y = softmax(x) or log-softmax(x) of each row.
extern "C" __global__ void kiln_softmax(float* y, const float* x, i64 rows, int cols, int logForm) {
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* xr = x + r * cols;
        float* yr = y + r * cols;
        float m = -kiln_inf();
        for (int j = threadIdx.x; j < cols; j += blockDim.x) m = kiln_max_nan(m, xr[j]);
        m = kiln_block_max(m);
        float s = 0.0f;
        for (int j = threadIdx.x; j < cols; j += blockDim.x) {
            float e = expf(xr[j] - m);
            if (!logForm) yr[j] = e;
            s += e;
        }
        s = kiln_block_sum(s);
        if (logForm) {
            float lse = m + logf(s);
            for (int j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = xr[j] - lse;
        } else {
            float inv = 1.0f / s;
            for (int j = threadIdx.x; j < cols; j += blockDim.x) yr[j] *= inv;
        }
    }
}

/// dx from the output y: log form dx = dy − exp(y)·Σdy, else dx = y·(dy − Σ dy·y).
extern "C" __global__ void kiln_softmax_backward(float* dx, const float* y, const float* g, i64 rows, int cols, int logForm) {
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* yr = y + r * cols;
        const float* gr = g + r * cols;
        float* dr = dx + r * cols;
        float s = 0.0f;
        for (int j = threadIdx.x; j < cols; j += blockDim.x) s += logForm ? gr[j] : gr[j] * yr[j];
        s = kiln_block_sum(s);
        for (int j = threadIdx.x; j < cols; j += blockDim.x)
            dr[j] = logForm ? gr[j] - expf(yr[j]) * s : yr[j] * (gr[j] - s);
    }
}

/// Per row: probs = softmax(logits) and loss[r] = (1−ε)(lse − x[label]) + ε/cols·(cols·lse − Σx).
extern "C" __global__ void kiln_cross_entropy(float* probs, float* loss, const float* logits, const int* labels,
                                              i64 rows, int cols, float smoothing) {
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* xr = logits + r * cols;
        float* pr = probs + r * cols;
        float m = -kiln_inf();
        for (int j = threadIdx.x; j < cols; j += blockDim.x) m = kiln_max_nan(m, xr[j]);
        m = kiln_block_max(m);
        float s = 0.0f, total = 0.0f;
        for (int j = threadIdx.x; j < cols; j += blockDim.x) {
            float e = expf(xr[j] - m);
            pr[j] = e;
            s += e;
            total += xr[j];
        }
        s = kiln_block_sum(s);
        if (smoothing != 0.0f) total = kiln_block_sum(total);
        float inv = 1.0f / s;
        for (int j = threadIdx.x; j < cols; j += blockDim.x) pr[j] *= inv;
        if (threadIdx.x == 0) {
            float lse = m + logf(s);
            float l = (1.0f - smoothing) * (lse - xr[labels[r]]);
            if (smoothing != 0.0f) l += smoothing / (float)cols * ((float)cols * lse - total);
            loss[r] = l;
        }
    }
}

/// out[0] = the mean of n values (summed in double); one block.
extern "C" __global__ void kiln_mean(float* out, const float* v, i64 n) {
    double s = 0.0;
    for (i64 i = threadIdx.x; i < n; i += blockDim.x) s += (double)v[i];
    s = kiln_block_sum_d(s);
    if (threadIdx.x == 0) out[0] = (float)(s / (double)(n > 0 ? n : 1));
}

/// dlogits = scale·(probs − target), target = (1−ε)·onehot + ε/cols.
extern "C" __global__ void kiln_cross_entropy_backward(float* dx, const float* probs, const int* labels, i64 rows,
                                                       int cols, float smoothing, float scale) {
    const float onTarget = 1.0f - smoothing, spread = smoothing / (float)cols;
    KILN_FOR(i, rows * cols) {
        i64 r = i / cols;
        int j = (int)(i - r * cols);
        float v = scale * (probs[i] - spread);
        if (j == labels[r]) v -= scale * onTarget;
        dx[i] = v;
    }
}
"""#, entries: ["kiln_softmax", "kiln_softmax_backward", "kiln_cross_entropy", "kiln_mean",
                "kiln_cross_entropy_backward"])
}
