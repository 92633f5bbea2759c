import Kiln

/// `y = x·Wᵀ + b`, with `weight` `[out, in]` and `bias` `[out]` initialised like PyTorch's
/// (uniform in ±1/√in).
public final class Linear: Module, Layer {
    /// `[outFeatures, inFeatures]`.
    public let weight: Parameter
    /// `[outFeatures]`, or nil without bias.
    public let bias: Parameter?

    /// A linear layer from `inFeatures` to `outFeatures`.
    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, generator: RandomGenerator = .global) {
        let bound = 1 / Float(inFeatures).squareRoot()
        weight = Parameter(Init.uniform([outFeatures, inFeatures], bound: bound, generator: generator))
        self.bias = bias ? Parameter(Init.uniform([outFeatures], bound: bound, generator: generator)) : nil
        super.init()
    }

    /// Applies the layer to `input`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        linear(input, weight: weight.value, bias: bias?.value)
    }
}

/// `max(x, 0)`.
public final class ReLU: Module, Layer {
    /// A ReLU activation.
    public override init() { super.init() }
    /// Applies the layer to `input`.
    public func callAsFunction(_ input: Tensor) -> Tensor { input.relu() }
}

/// Gaussian error linear unit (exact, or the tanh approximation).
public final class GELU: Module, Layer {
    /// Whether to use the tanh approximation.
    public let approximate: Bool
    /// A GELU activation.
    public init(approximate: Bool = false) { self.approximate = approximate; super.init() }
    /// Applies the layer to `input`.
    public func callAsFunction(_ input: Tensor) -> Tensor { input.gelu(approximate: approximate) }
}

/// Hyperbolic tangent.
public final class Tanh: Module, Layer {
    /// A tanh activation.
    public override init() { super.init() }
    /// Applies the layer to `input`.
    public func callAsFunction(_ input: Tensor) -> Tensor { input.tanh() }
}

/// Logistic sigmoid.
public final class Sigmoid: Module, Layer {
    /// A sigmoid activation.
    public override init() { super.init() }
    /// Applies the layer to `input`.
    public func callAsFunction(_ input: Tensor) -> Tensor { input.sigmoid() }
}

/// In training mode zeros each element with probability `p` and scales the rest by 1/(1−p);
/// the identity in evaluation mode.
public final class Dropout: Module, Layer {
    /// Drop probability.
    public let p: Float
    let generator: RandomGenerator

    /// A dropout layer drawing its masks from `generator`.
    public init(_ p: Float = 0.5, generator: RandomGenerator = .global) {
        precondition(p >= 0 && p < 1, "Dropout: p must be in [0, 1), got \(p)")
        self.p = p
        self.generator = generator
        super.init()
    }

    /// When the input is rows `offset ..< offset + n` of a larger batch of `total` rows (a
    /// data-parallel rank's shard), the mask is drawn for the whole batch and these rows of it
    /// are used: every rank draws the masks one process would, so ranks get independent masks and
    /// training matches one process on the whole batch. nil: the input is the whole batch.
    package var batchWindow: (offset: Int, total: Int)?

    /// Applies the layer to `input`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        guard isTraining else { return input }
        guard let (offset, total) = batchWindow, p > 0, input.rank >= 1, offset + input.shape[0] <= total else {
            return input.dropout(p: p, generator: generator)
        }
        let mask = noGrad { Tensor.ones([total] + input.shape.dropFirst()).dropout(p: p, generator: generator) }
        return input * mask[offset..<offset + input.shape[0]]
    }
}

/// Flattens all axes after the first (the batch axis).
public final class Flatten: Module, Layer {
    /// A flatten layer.
    public override init() { super.init() }
    /// Applies the layer to `input`.
    public func callAsFunction(_ input: Tensor) -> Tensor { input.flattened(startAxis: 1) }
}

/// Applies layers in order. Parameters are named by position (`0.weight`), as in PyTorch.
public final class Sequential: Module, Layer {
    /// The layers, applied first to last.
    public let layers: [any Layer]

    /// A sequence of layers.
    public init(_ layers: any Layer...) { self.layers = layers; super.init() }
    /// A sequence of layers from an array.
    public init(layers: [any Layer]) { self.layers = layers; super.init() }

    /// The layers, named by position.
    public override var children: [(String, Module)] {
        layers.enumerated().map { ("\($0.offset)", $0.element) }
    }

    /// Applies the layer to `input`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        layers.reduce(input) { x, layer in layer(x) }
    }
}
