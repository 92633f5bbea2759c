import Kiln

/// A lookup table of `count` vectors of `dimension` features, initialised N(0, 1) like PyTorch's
/// `nn.Embedding`. Looking up rows records an `indexSelect`, whose gradient adds into the rows used
/// (`indexAdd`: repeated indices accumulate; unused rows get zeros).
///
/// The table may also serve as an output projection (weight tying, as in GPT):
/// `linear(x, weight: embedding.weight.value, bias: nil)`; the parameter then receives the sum of
/// both gradients.
public final class Embedding: Module, Layer {
    /// `[count, dimension]`.
    public let weight: Parameter

    /// An embedding of `count` symbols into `dimension` features.
    public init(_ count: Int, _ dimension: Int, generator: RandomGenerator = .global) {
        precondition(count > 0 && dimension > 0, "Embedding: count and dimension must be positive, got \(count), \(dimension)")
        weight = Parameter(Tensor.normal([count, dimension], generator: generator))
        super.init()
    }

    /// The number of symbols.
    public var count: Int { weight.shape[0] }
    /// The vector size.
    public var dimension: Int { weight.shape[1] }

    /// The vectors of `indices`, laid out as `shape` (e.g. `[batch, time]`) → `shape + [dimension]`.
    public func callAsFunction(_ indices: [Int32], shape: [Int]) -> Tensor {
        precondition(shape.reduce(1, *) == indices.count,
                     "Embedding: \(indices.count) indices don't fill shape \(shape)")
        for (i, index) in indices.enumerated() where index < 0 || Int(index) >= count {
            preconditionFailure("Embedding: index \(index) at position \(i) out of range 0..<\(count)")
        }
        return weight.value.indexSelect(indices).reshaped(shape + [dimension])
    }

    /// The vectors of the (integer-valued) indices in `input` → `input.shape + [dimension]`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        let indices = input.scalars.map { value -> Int32 in
            precondition(value == value.rounded(.towardZero), "Embedding: index \(value) is not an integer")
            return Int32(value)
        }
        return self(indices, shape: input.shape)
    }
}
