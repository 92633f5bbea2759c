/// Row gathers and scatter-adds of a dense `[rows, width]` table (`indexSelect` / `indexAdd`).
enum EmbeddingKernels {
    static let source = KernelSource(name: "embedding", body: #"""
/// out[i, :] = x[idx[i], :].
extern "C" __global__ void kiln_index_select(float* out, const float* x, const int* idx, i64 count, i64 width) {
    KILN_FOR(e, count * width) {
        i64 i = e / width;
        out[e] = x[(i64)idx[i] * width + (e - i * width)];
    }
}

/// dx[idx[i], :] += dy[i, :] (rows may repeat: atomic adds).
extern "C" __global__ void kiln_index_add(float* dx, const float* dy, const int* idx, i64 count, i64 width) {
    KILN_FOR(e, count * width) {
        i64 i = e / width;
        atomicAdd(dx + (i64)idx[i] * width + (e - i * width), dy[e]);
    }
}
"""#, entries: ["kiln_index_select", "kiln_index_add"])
}
