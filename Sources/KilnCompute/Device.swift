/// Where a tensor's storage lives.
public enum Device: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// Host memory; kernels run on OpenBLAS and Swift loops.
    case cpu
    /// The CUDA device with the given ordinal.
    case cuda(Int)

    /// `cpu` or `cuda:N`.
    public var description: String {
        switch self {
        case .cpu: "cpu"
        case .cuda(let n): "cuda:\(n)"
        }
    }
}
