import Kiln

/// Layer normalization over the last axis (`features` wide): `(x − mean)/√(var + ε)·weight + bias`,
/// weight initialised to ones and bias to zeros, as PyTorch's `nn.LayerNorm`. Without `bias`
/// (nanoGPT's choice) only the weight is learned.
public final class LayerNorm: Module, Layer {
    /// `[features]`, initially ones.
    public let weight: Parameter
    /// `[features]`, initially zeros; nil without bias.
    public let bias: Parameter?
    /// Added to the variance.
    public let epsilon: Float

    /// A layer normalization of `features` values per position.
    public init(_ features: Int, epsilon: Float = 1e-5, bias: Bool = true) {
        precondition(features > 0, "LayerNorm: features must be positive, got \(features)")
        weight = Parameter(Tensor.ones([features]))
        self.bias = bias ? Parameter(Tensor.zeros([features])) : nil
        self.epsilon = epsilon
        super.init()
    }

    /// Applies the layer to `input` `[..., features]`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        layerNorm(input, weight: weight.value, bias: bias?.value, epsilon: epsilon)
    }
}
