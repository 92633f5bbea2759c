#if canImport(Glibc)
import Glibc
#endif
import KilnCompute

// cublas_api.h: cublasStatus_t and cublasOperation_t are int enums, the handle an opaque pointer.
private typealias CreateFn = @convention(c) (UnsafeMutablePointer<OpaquePointer?>) -> Int32
private typealias SetStreamFn = @convention(c) (OpaquePointer?, OpaquePointer?) -> Int32
private typealias SetMathModeFn = @convention(c) (OpaquePointer?, Int32) -> Int32
private typealias SgemmFn = @convention(c) (
    OpaquePointer?, Int32, Int32, Int32, Int32, Int32, UnsafePointer<Float>,
    UInt64, Int32, UInt64, Int32, UnsafePointer<Float>, UInt64, Int32) -> Int32
private typealias SgemmBatchedFn = @convention(c) (
    OpaquePointer?, Int32, Int32, Int32, Int32, Int32, UnsafePointer<Float>,
    UInt64, Int32, Int64, UInt64, Int32, Int64, UnsafePointer<Float>, UInt64, Int32, Int64, Int32) -> Int32

/// cuBLAS on the context's stream: single-precision matrix products. Row-major products are run as
/// the column-major product of the transposes (`Cᵀ = op(B)ᵀ·op(A)ᵀ`), so no data is transposed.
///
/// TF32 tensor cores are off unless asked for (`KILN_CUDA_TF32=1` or `CUDA.allowTF32`): they round
/// the inputs to 10-bit mantissas, which the CPU-reference tests would see.
package struct CUBLAS: @unchecked Sendable {
    let handle: OpaquePointer
    private let setMathModeFn: SetMathModeFn
    private let sgemm: SgemmFn
    private let sgemmStridedBatched: SgemmBatchedFn
    /// The library file (for messages).
    package let path: String

    init(library: UnsafeMutableRawPointer, path: String, stream: OpaquePointer?) throws {
        let create = try symbol(library, "cublasCreate_v2", in: path, as: CreateFn.self)
        let setStream = try symbol(library, "cublasSetStream_v2", in: path, as: SetStreamFn.self)
        setMathModeFn = try symbol(library, "cublasSetMathMode", in: path, as: SetMathModeFn.self)
        sgemm = try symbol(library, "cublasSgemm_v2", in: path, as: SgemmFn.self)
        sgemmStridedBatched = try symbol(library, "cublasSgemmStridedBatched", in: path, as: SgemmBatchedFn.self)
        var h: OpaquePointer?
        try Self.check(create(&h), "cublasCreate_v2")
        handle = h!
        self.path = path
        try Self.check(setStream(handle, stream), "cublasSetStream_v2")
    }

    /// Turns TF32 tensor-core products on (CUBLAS_TF32_TENSOR_OP_MATH) or off (CUBLAS_DEFAULT_MATH).
    package func setTF32(_ on: Bool) {
        Self.require(setMathModeFn(handle, on ? 3 : 0), "cublasSetMathMode")
    }

    /// Row-major `C = alpha·op(A)·op(B) + beta·C` for `p.batch` matrices at `p`'s element strides;
    /// `a`, `b`, `c` are the device base addresses the offsets `p.aOffset`, … count from (normally
    /// the storages' `deviceAddress`).
    package func gemm(_ p: GemmProblem, a aBase: UInt64, b bBase: UInt64, c cBase: UInt64) {
        precondition([p.m, p.n, p.k, p.lda, p.ldb, p.ldc, p.batch].allSatisfy { $0 < Int(Int32.max) },
                     "gemm: dimension exceeds Int32 (m \(p.m), n \(p.n), k \(p.k))")
        guard p.m > 0, p.n > 0, p.batch > 0 else { return }
        let f = UInt64(MemoryLayout<Float>.stride)
        let a = aBase + UInt64(p.aOffset) * f, b = bBase + UInt64(p.bOffset) * f, c = cBase + UInt64(p.cOffset) * f
        var alpha = p.alpha, beta = p.beta
        // Column-major view: C' = Cᵀ is n×m; C' = op(B)ᵀ' · op(A)ᵀ', i.e. B first, then A, with the
        // same transposition flags and leading dimensions (CUBLAS_OP_N = 0, CUBLAS_OP_T = 1).
        let opB: Int32 = p.transB ? 1 : 0, opA: Int32 = p.transA ? 1 : 0
        let n = Int32(p.n), m = Int32(p.m), k = Int32(p.k)
        if p.batch == 1 {
            Self.require(sgemm(handle, opB, opA, n, m, k, &alpha, b, Int32(p.ldb), a, Int32(p.lda),
                               &beta, c, Int32(p.ldc)),
                         "cublasSgemm_v2(m \(p.m), n \(p.n), k \(p.k))")
        } else {
            Self.require(sgemmStridedBatched(handle, opB, opA, n, m, k, &alpha,
                                             b, Int32(p.ldb), Int64(p.bBatchStride),
                                             a, Int32(p.lda), Int64(p.aBatchStride), &beta,
                                             c, Int32(p.ldc), Int64(p.cBatchStride), Int32(p.batch)),
                         "cublasSgemmStridedBatched(m \(p.m), n \(p.n), k \(p.k), batch \(p.batch))")
        }
    }

    /// `gemm` on `p`'s storages.
    package func gemm(_ p: GemmProblem) {
        gemm(p, a: p.a.deviceAddress, b: p.b.deviceAddress, c: p.c.deviceAddress)
    }

    static func message(_ status: Int32) -> String {
        switch status {
        case 1: "CUBLAS_STATUS_NOT_INITIALIZED"
        case 3: "CUBLAS_STATUS_ALLOC_FAILED"
        case 7: "CUBLAS_STATUS_INVALID_VALUE"
        case 8: "CUBLAS_STATUS_ARCH_MISMATCH"
        case 11: "CUBLAS_STATUS_MAPPING_ERROR"
        case 13: "CUBLAS_STATUS_EXECUTION_FAILED"
        case 14: "CUBLAS_STATUS_INTERNAL_ERROR"
        case 15: "CUBLAS_STATUS_NOT_SUPPORTED"
        case 16: "CUBLAS_STATUS_LICENSE_ERROR"
        default: "cuBLAS status \(status)"
        }
    }

    static func check(_ status: Int32, _ call: String) throws {
        guard status != 0 else { return }
        throw CUDAError.call(call, code: status, message: message(status))
    }

    static func require(_ status: Int32, _ call: @autoclosure () -> String) {
        guard status != 0 else { return }
        preconditionFailure(CUDAError.call(call(), code: status, message: message(status)).description)
    }
}
