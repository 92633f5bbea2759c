/// The element-wise middle of attention (`CPUBackend+Attention.swift`): the products run on
/// cuBLAS; these kernels take each `[tq, tk]` row of every head in place. Causal masking is
/// top-left aligned: query i sees keys 0...i. One block per row.
enum AttentionKernels {
    static let source = KernelSource(name: "attention", body: #"""
/// p (the scaled scores, in place) = softmax over the visible keys, 0 where masked.
extern "C" __global__ void kiln_attention_softmax(float* p, i64 rows, int tq, int tk, int causal) {
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        float* row = p + r * tk;
        const int i = (int)(r % tq);
        const int n = causal ? min(i + 1, tk) : tk;
        float m = -kiln_inf();
        for (int j = threadIdx.x; j < n; j += blockDim.x) m = kiln_max_nan(m, row[j]);
        m = kiln_block_max(m);
        float s = 0.0f;
        for (int j = threadIdx.x; j < n; j += blockDim.x) { float e = expf(row[j] - m); row[j] = e; s += e; }
        const float inv = 1.0f / kiln_block_sum(s);
        for (int j = threadIdx.x; j < tk; j += blockDim.x) row[j] = j < n ? row[j] * inv : 0.0f;
    }
}

/// ds (holding dP = dO·Vᵀ on entry) = scale·P ⊙ (dP − Σⱼ dP·P), 0 where masked.
extern "C" __global__ void kiln_attention_softmax_backward(float* ds, const float* p, i64 rows, int tq, int tk,
                                                           float scale, int causal) {
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        float* sr = ds + r * tk;
        const float* pr = p + r * tk;
        const int i = (int)(r % tq);
        const int n = causal ? min(i + 1, tk) : tk;
        float dot = 0.0f;
        for (int j = threadIdx.x; j < n; j += blockDim.x) dot += pr[j] * sr[j];
        dot = kiln_block_sum(dot);
        for (int j = threadIdx.x; j < tk; j += blockDim.x) sr[j] = j < n ? scale * pr[j] * (sr[j] - dot) : 0.0f;
    }
}
"""#, entries: ["kiln_attention_softmax", "kiln_attention_softmax_backward"])
}
