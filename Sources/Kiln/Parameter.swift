/// A trainable tensor: a leaf of the autograd graph whose gradient `backward()` accumulates and
/// whose elements optimizers update in place. Layers hold their weights as parameters; optimizers
/// take a list of them.
public final class Parameter {
    /// The current value. Its storage is updated in place by optimizers and `assign(_:)`.
    public let value: Tensor

    /// A parameter starting at `value` (copied, so the parameter owns its storage).
    public init(_ value: Tensor) {
        self.value = value.detached().copied().requiringGrad()
    }

    /// The gradient accumulated by `backward()` since the last `zeroGrad()`, or nil.
    public var grad: Tensor? {
        get { value.node?.grad }
        set {
            if let g = newValue {
                precondition(g.shape == value.shape, "Parameter.grad: shape \(g.shape) differs from \(value.shape)")
            }
            value.node?.grad = newValue
        }
    }

    /// Forgets the accumulated gradient.
    public func zeroGrad() { value.node?.grad = nil }

    /// The shape of the value.
    public var shape: [Int] { value.shape }
    /// The number of elements.
    public var count: Int { value.count }

    /// Overwrites the value in place with `source`'s elements (same shape).
    public func assign(_ source: Tensor) { value.assign(source) }
}
