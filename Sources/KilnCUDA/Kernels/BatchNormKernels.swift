/// Batch normalisation of a dense `[N, C, S]` input (`CPUBackend+BatchNorm.swift`): one block per
/// channel for the statistics (sums of x − x[0, c, 0] in double, as on the CPU), then one thread
/// per element for `y = x·a + b` (backward: `dx = dy·a + x·b + k`, coefficients `[3, C]`).
enum BatchNormKernels {
    static let source = KernelSource(name: "batchnorm", body: #"""
/// Batch mean and 1/√(var + ε) per channel; running statistics (if given) updated with the unbiased variance.
extern "C" __global__ void kiln_batch_norm_stats(float* mean, float* invStd, float* rm, float* rv, const float* x,
                                                 int N, int C, i64 S, float momentum, float eps) {
    for (int c = blockIdx.x; c < C; c += gridDim.x) {
        const float k = x[(i64)c * S];
        double s1 = 0.0, s2 = 0.0;
        for (i64 e = threadIdx.x; e < (i64)N * S; e += blockDim.x) {
            const i64 n = e / S;
            const float v = x[(n * C + c) * S + (e - n * S)] - k;
            s1 += (double)v;
            s2 += (double)(v * v);
        }
        s1 = kiln_block_sum_d(s1);
        s2 = kiln_block_sum_d(s2);
        if (threadIdx.x == 0) {
            const double count = (double)N * (double)S;
            const double m = s1 / count;
            const double variance = fmax(s2 / count - m * m, 0.0);
            const float mu = (float)((double)k + m);
            mean[c] = mu;
            invStd[c] = (float)(1.0 / sqrt(variance + (double)eps));
            if (rm && rv) {
                const double unbiased = count > 1.0 ? variance * count / (count - 1.0) : variance;
                rm[c] = (1.0f - momentum) * rm[c] + momentum * mu;
                rv[c] = (1.0f - momentum) * rv[c] + momentum * (float)unbiased;
            }
        }
    }
}

/// Evaluation: the running statistics are the statistics.
extern "C" __global__ void kiln_batch_norm_eval_stats(float* mean, float* invStd, const float* rm, const float* rv,
                                                      int C, float eps) {
    KILN_FOR(c, (i64)C) {
        mean[c] = rm[c];
        invStd[c] = 1.0f / sqrtf(rv[c] + eps);
    }
}

/// y = x·a + b with a = w·invStd, b = bias − mean·a (w, bias may be null).
extern "C" __global__ void kiln_batch_norm_apply(float* y, const float* x, const float* mean, const float* invStd,
                                                 const float* w, const float* bias, int C, i64 S, i64 total) {
    KILN_FOR(e, total) {
        const int c = (int)((e / S) % C);
        const float a = (w ? w[c] : 1.0f) * invStd[c];
        const float b = (bias ? bias[c] : 0.0f) - mean[c] * a;
        y[e] = x[e] * a + b;
    }
}

/// Per channel: dBias = Σdy, dWeight = Σdy·(x − mean)·invStd, and coef = (a, b, k) of dx.
extern "C" __global__ void kiln_batch_norm_backward_stats(float* coef, float* dw, float* db, const float* dy,
                                                          const float* x, const float* mean, const float* invStd,
                                                          const float* w, int N, int C, i64 S, int training) {
    for (int c = blockIdx.x; c < C; c += gridDim.x) {
        const float mu = mean[c];
        double sumDy = 0.0, sumDyXmu = 0.0;
        for (i64 e = threadIdx.x; e < (i64)N * S; e += blockDim.x) {
            const i64 n = e / S;
            const i64 o = (n * C + c) * S + (e - n * S);
            sumDy += (double)dy[o];
            sumDyXmu += (double)(dy[o] * (x[o] - mu));
        }
        sumDy = kiln_block_sum_d(sumDy);
        sumDyXmu = kiln_block_sum_d(sumDyXmu);
        if (threadIdx.x == 0) {
            const float s = invStd[c], wc = w ? w[c] : 1.0f;
            const double n = (double)N * (double)S;
            if (db) db[c] = (float)sumDy;
            if (dw) dw[c] = (float)(sumDyXmu * (double)s);
            const float a = wc * s;
            float b = 0.0f, k = 0.0f;
            if (training) {
                b = (float)(-(double)a * (double)s * (double)s * sumDyXmu / n);
                k = (float)(-(double)a * sumDy / n) - b * mu;
            }
            coef[c] = a; coef[C + c] = b; coef[2 * C + c] = k;
        }
    }
}

extern "C" __global__ void kiln_batch_norm_backward_apply(float* dx, const float* dy, const float* x, const float* coef,
                                                          int C, i64 S, i64 total) {
    KILN_FOR(e, total) {
        const int c = (int)((e / S) % C);
        dx[e] = dy[e] * coef[c] + x[e] * coef[C + c] + coef[2 * C + c];
    }
}
"""#, entries: ["kiln_batch_norm_stats", "kiln_batch_norm_eval_stats", "kiln_batch_norm_apply",
                "kiln_batch_norm_backward_stats", "kiln_batch_norm_backward_apply"])
}
