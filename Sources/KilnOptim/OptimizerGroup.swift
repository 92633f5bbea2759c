import Kiln

/// Several optimizers stepped as one: PyTorch's parameter groups (for example AdamW with weight
/// decay on matrices and none on gains and biases). Setting `learningRate` scales every group's
/// rate by the same factor, so groups keep their ratios.
public final class OptimizerGroup: Optimizer {
    /// The optimizers, one per group.
    public let groups: [any Optimizer]
    private let baseRates: [Float]
    private var rate: Float

    /// A group of optimizers; the group's `learningRate` starts as the first one's.
    public init(_ groups: [any Optimizer]) {
        precondition(!groups.isEmpty, "OptimizerGroup: needs at least one optimizer")
        self.groups = groups
        self.baseRates = groups.map(\.learningRate)
        self.rate = groups[0].learningRate
    }

    /// Every parameter of every group.
    public var parameters: [Parameter] { groups.flatMap(\.parameters) }

    /// The first group's rate; setting it rescales all groups proportionally.
    public var learningRate: Float {
        get { rate }
        set {
            rate = newValue
            let factor = baseRates[0] == 0 ? 0 : newValue / baseRates[0]
            for (g, base) in zip(groups, baseRates) { g.learningRate = base * factor }
        }
    }

    /// Steps taken (the first group's count).
    public var stepCount: Int { groups[0].stepCount }

    /// Steps every group.
    public func step() { for g in groups { g.step() } }
}
