// A fake libcublas.so.13: column-major sgemm as cuBLAS documents it, by plain loops.
#include <cstdio>
typedef long long i64;
static int handle;
extern "C" {
int cublasCreate_v2(void** h) { *h = &handle; return 0; }
int cublasSetStream_v2(void*, void*) { return 0; }
int cublasSetMathMode(void*, int) { return 0; }
static void gemm(int ta, int tb, int m, int n, int k, float alpha, const float* A, int lda, const float* B, int ldb,
                 float beta, float* C, int ldc) {
    if (lda < (ta ? k : m) || ldb < (tb ? n : k) || ldc < m) { std::fprintf(stderr, "fake cublas: bad leading dimension\n"); }
    for (int j = 0; j < n; ++j)
        for (int i = 0; i < m; ++i) {
            double s = 0;
            for (int p = 0; p < k; ++p) {
                float a = ta ? A[p + (i64)i * lda] : A[i + (i64)p * lda];
                float b = tb ? B[j + (i64)p * ldb] : B[p + (i64)j * ldb];
                s += (double)a * b;
            }
            float* c = C + i + (i64)j * ldc;
            *c = beta == 0 ? alpha * (float)s : alpha * (float)s + beta * *c;
        }
}
int cublasSgemm_v2(void*, int ta, int tb, int m, int n, int k, const float* alpha, const float* A, int lda,
                   const float* B, int ldb, const float* beta, float* C, int ldc) {
    gemm(ta, tb, m, n, k, *alpha, A, lda, B, ldb, *beta, C, ldc); return 0;
}
int cublasSgemmStridedBatched(void*, int ta, int tb, int m, int n, int k, const float* alpha, const float* A, int lda,
                              i64 sa, const float* B, int ldb, i64 sb, const float* beta, float* C, int ldc, i64 sc, int batch) {
    for (int i = 0; i < batch; ++i) gemm(ta, tb, m, n, k, *alpha, A + i * sa, lda, B + i * sb, ldb, *beta, C + i * sc, ldc);
    return 0;
}
}
