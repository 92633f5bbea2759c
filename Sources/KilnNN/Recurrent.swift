import Kiln

/// A one-layer LSTM over batch-first sequences (`[batch, time, inputSize]` → `[batch, time,
/// hiddenSize]`), PyTorch's `nn.LSTM(batch_first=True)`: gate order i, f, g, o; parameters
/// `weight_ih_l0` `[4H, I]`, `weight_hh_l0` `[4H, H]`, `bias_ih_l0`, `bias_hh_l0` `[4H]`, all
/// initialised U(±1/√H). The sequence runs as one fused op (`lstm`), backward through time included.
public final class LSTM: Module {
    /// `weight_ih_l0`, `[4·hiddenSize, inputSize]`.
    public let weightIH: Parameter
    /// `weight_hh_l0`, `[4·hiddenSize, hiddenSize]`.
    public let weightHH: Parameter
    /// `bias_ih_l0`, `[4·hiddenSize]`.
    public let biasIH: Parameter
    /// `bias_hh_l0`, `[4·hiddenSize]`.
    public let biasHH: Parameter

    /// An LSTM from `inputSize` features to `hiddenSize` units.
    public init(inputSize: Int, hiddenSize: Int, generator: RandomGenerator = .global) {
        precondition(inputSize > 0 && hiddenSize > 0, "LSTM: sizes must be positive, got \(inputSize), \(hiddenSize)")
        let bound = 1 / Float(hiddenSize).squareRoot()
        weightIH = Parameter(Init.uniform([4 * hiddenSize, inputSize], bound: bound, generator: generator))
        weightHH = Parameter(Init.uniform([4 * hiddenSize, hiddenSize], bound: bound, generator: generator))
        biasIH = Parameter(Init.uniform([4 * hiddenSize], bound: bound, generator: generator))
        biasHH = Parameter(Init.uniform([4 * hiddenSize], bound: bound, generator: generator))
        super.init()
    }

    /// The number of hidden units.
    public var hiddenSize: Int { weightHH.shape[1] }

    /// PyTorch's names.
    public override var ownParameters: [(String, Parameter)] {
        [("weight_ih_l0", weightIH), ("weight_hh_l0", weightHH), ("bias_ih_l0", biasIH), ("bias_hh_l0", biasHH)]
    }

    /// Runs the sequence `x` `[batch, time, inputSize]` from `state` (`h`, `c` `[batch, hiddenSize]`;
    /// nil: zeros). Returns every step's `h` `[batch, time, hiddenSize]` and the final state.
    public func callAsFunction(_ x: Tensor, state: (h: Tensor, c: Tensor)? = nil)
        -> (output: Tensor, state: (h: Tensor, c: Tensor)) {
        let r = lstm(x, weightIH: weightIH.value, weightHH: weightHH.value, biasIH: biasIH.value, biasHH: biasHH.value,
                     h0: state?.h, c0: state?.c)
        return (r.output, (r.h, r.c))
    }

    /// Runs the sequence of `embedding`'s vectors for `indices` (`shape` = `[batch, time]`): the same
    /// as `self(embedding(indices, shape: shape), state: state)`, with the input projection done
    /// once per embedding row (far fewer FLOPs when the vocabulary is smaller than the batch).
    public func callAsFunction(_ indices: [Int32], shape: [Int], embedding: Embedding, state: (h: Tensor, c: Tensor)? = nil)
        -> (output: Tensor, state: (h: Tensor, c: Tensor)) {
        let r = lstm(embedding: embedding.weight.value, indices: indices, shape: shape, weightIH: weightIH.value,
                     weightHH: weightHH.value, biasIH: biasIH.value, biasHH: biasHH.value, h0: state?.h, c0: state?.c)
        return (r.output, (r.h, r.c))
    }
}

/// A one-layer GRU over batch-first sequences, PyTorch's `nn.GRU(batch_first=True)`: gate order
/// r, z, n with `n = tanh(W_in·x + b_in + r ⊙ (W_hn·h + b_hn))`, `h' = (1 − z) ⊙ n + z ⊙ h`;
/// parameters `weight_ih_l0` `[3H, I]`, `weight_hh_l0` `[3H, H]`, `bias_ih_l0`, `bias_hh_l0`
/// `[3H]`, all initialised U(±1/√H). One fused op (`gru`) per sequence.
public final class GRU: Module {
    /// `weight_ih_l0`, `[3·hiddenSize, inputSize]`.
    public let weightIH: Parameter
    /// `weight_hh_l0`, `[3·hiddenSize, hiddenSize]`.
    public let weightHH: Parameter
    /// `bias_ih_l0`, `[3·hiddenSize]`.
    public let biasIH: Parameter
    /// `bias_hh_l0`, `[3·hiddenSize]`.
    public let biasHH: Parameter

    /// A GRU from `inputSize` features to `hiddenSize` units.
    public init(inputSize: Int, hiddenSize: Int, generator: RandomGenerator = .global) {
        precondition(inputSize > 0 && hiddenSize > 0, "GRU: sizes must be positive, got \(inputSize), \(hiddenSize)")
        let bound = 1 / Float(hiddenSize).squareRoot()
        weightIH = Parameter(Init.uniform([3 * hiddenSize, inputSize], bound: bound, generator: generator))
        weightHH = Parameter(Init.uniform([3 * hiddenSize, hiddenSize], bound: bound, generator: generator))
        biasIH = Parameter(Init.uniform([3 * hiddenSize], bound: bound, generator: generator))
        biasHH = Parameter(Init.uniform([3 * hiddenSize], bound: bound, generator: generator))
        super.init()
    }

    /// The number of hidden units.
    public var hiddenSize: Int { weightHH.shape[1] }

    /// PyTorch's names.
    public override var ownParameters: [(String, Parameter)] {
        [("weight_ih_l0", weightIH), ("weight_hh_l0", weightHH), ("bias_ih_l0", biasIH), ("bias_hh_l0", biasHH)]
    }

    /// Runs the sequence `x` `[batch, time, inputSize]` from `state` `[batch, hiddenSize]` (nil:
    /// zeros). Returns every step's `h` `[batch, time, hiddenSize]` and the final `h`.
    public func callAsFunction(_ x: Tensor, state: Tensor? = nil) -> (output: Tensor, state: Tensor) {
        let r = gru(x, weightIH: weightIH.value, weightHH: weightHH.value, biasIH: biasIH.value, biasHH: biasHH.value,
                    h0: state)
        return (r.output, r.h)
    }

    /// Runs the sequence of `embedding`'s vectors for `indices` (`shape` = `[batch, time]`), with
    /// the input projection done once per embedding row (see `LSTM`'s counterpart).
    public func callAsFunction(_ indices: [Int32], shape: [Int], embedding: Embedding, state: Tensor? = nil)
        -> (output: Tensor, state: Tensor) {
        let r = gru(embedding: embedding.weight.value, indices: indices, shape: shape, weightIH: weightIH.value,
                    weightHH: weightHH.value, biasIH: biasIH.value, biasHH: biasHH.value, h0: state)
        return (r.output, r.h)
    }
}
