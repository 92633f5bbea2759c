/// Fused optimizer updates, one thread per element, in the operation order of KilnOptim's CPU
/// loops (which mirror PyTorch's): SGD (momentum, dampening, Nesterov, weight decay), Adam/AdamW
/// (AMSGrad), RMSprop (centered, momentum) and Adadelta. Optional state is a null pointer.
enum OptimizerKernels {
    static let source = KernelSource(name: "optimizer", body: #"""
extern "C" __global__ void kiln_sgd(float* p, const float* g, float* buf, i64 n, float negLr, float momentum,
                                    float oneMinusDampening, float weightDecay, int nesterov, int first) {
    KILN_FOR(i, n) {
        const float pi = p[i];
        float d = g[i];
        if (weightDecay != 0.0f) d = d + weightDecay * pi;
        if (buf) {
            const float bi = first ? d : buf[i] * momentum + oneMinusDampening * d;
            buf[i] = bi;
            d = nesterov ? d + momentum * bi : bi;
        }
        p[i] = pi + negLr * d;
    }
}

extern "C" __global__ void kiln_adam(float* p, const float* g, float* m, float* v, float* vmax, i64 n,
                                     float negStep, float bc2Sqrt, float weight, int small, float beta2,
                                     float oneMinusBeta2, float eps, float l2, float decayFactor) {
    KILN_FOR(i, n) {
        float pi = p[i], gi = g[i];
        if (decayFactor != 1.0f) pi = pi * decayFactor;
        if (l2 != 0.0f) gi = gi + l2 * pi;
        const float mOld = m[i];
        const float mi = small ? mOld + weight * (gi - mOld) : gi - (gi - mOld) * (1.0f - weight);
        m[i] = mi;
        const float vi = v[i] * beta2 + (oneMinusBeta2 * gi) * gi;
        v[i] = vi;
        float vHat = vi;
        if (vmax) { const float prev = vmax[i]; vHat = prev >= vi ? prev : vi; vmax[i] = vHat; }
        const float denominator = sqrtf(vHat) / bc2Sqrt + eps;
        p[i] = pi + (negStep * mi) / denominator;
    }
}

extern "C" __global__ void kiln_rmsprop(float* p, const float* g, float* sq, float* gradAvg, float* buf, i64 n,
                                        float negLr, float alpha, float weight, float eps, float weightDecay,
                                        float momentum) {
    const int small = weight < 0.5f;
    KILN_FOR(i, n) {
        const float pi = p[i];
        float gi = g[i];
        if (weightDecay != 0.0f) gi = gi + weightDecay * pi;
        const float si = sq[i] * alpha + (weight * gi) * gi;
        sq[i] = si;
        float average;
        if (gradAvg) {
            const float aOld = gradAvg[i];
            const float ai = small ? aOld + weight * (gi - aOld) : gi - (gi - aOld) * (1.0f - weight);
            gradAvg[i] = ai;
            average = sqrtf(si - ai * ai);
        } else {
            average = sqrtf(si);
        }
        average = average + eps;
        if (buf) {
            const float bi = buf[i] * momentum + gi / average;
            buf[i] = bi;
            p[i] = pi + negLr * bi;
        } else {
            p[i] = pi + (negLr * gi) / average;
        }
    }
}

extern "C" __global__ void kiln_adadelta(float* p, const float* g, float* sq, float* acc, i64 n, float negLr,
                                         float rho, float weight, float eps, float weightDecay) {
    KILN_FOR(i, n) {
        const float pi = p[i];
        float gi = g[i];
        if (weightDecay != 0.0f) gi = gi + weightDecay * pi;
        const float si = sq[i] * rho + (weight * gi) * gi;
        sq[i] = si;
        const float std = sqrtf(si + eps);
        const float delta = sqrtf(acc[i] + eps) / std * gi;
        acc[i] = acc[i] * rho + (weight * delta) * delta;
        p[i] = pi + negLr * delta;
    }
}
"""#, entries: ["kiln_sgd", "kiln_adam", "kiln_rmsprop", "kiln_adadelta"])
}
