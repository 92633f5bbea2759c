import Kiln

/// Multi-head self-attention as in nanoGPT's `CausalSelfAttention`: one fused q/k/v projection
/// `c_attn` (`[3·width, width]`), attention over `heads` heads of `width / heads` features (causal
/// by default), and the output projection `c_proj`. State-dict names: `c_attn.weight`,
/// `c_attn.bias`, `c_proj.weight`, `c_proj.bias`.
///
/// Without dropout (or in evaluation mode) the attention is the fused `selfAttention` kernel on
/// the packed projection. With dropout in training, the probabilities are computed by composed
/// ops so that they can be dropped, and the output projection is followed by dropout too.
public final class MultiHeadSelfAttention: Module, Layer {
    /// The q/k/v projection, `width → 3·width`.
    public let qkvProjection: Linear
    /// The output projection, `width → width`.
    public let outputProjection: Linear
    /// The number of heads.
    public let heads: Int
    /// Whether position t attends only to positions ≤ t.
    public let causal: Bool
    /// Dropout probability on the attention probabilities and on the output.
    public let dropout: Float
    let generator: RandomGenerator

    /// Self-attention over `width` features split into `heads` heads.
    public init(width: Int, heads: Int, bias: Bool = true, causal: Bool = true, dropout: Float = 0,
                generator: RandomGenerator = .global) {
        precondition(heads > 0 && width % heads == 0,
                     "MultiHeadSelfAttention: width \(width) is not divisible by \(heads) heads")
        precondition(dropout >= 0 && dropout < 1, "MultiHeadSelfAttention: dropout must be in [0, 1), got \(dropout)")
        qkvProjection = Linear(width, 3 * width, bias: bias, generator: generator)
        outputProjection = Linear(width, width, bias: bias, generator: generator)
        self.heads = heads
        self.causal = causal
        self.dropout = dropout
        self.generator = generator
        super.init()
    }

    /// nanoGPT's names.
    public override var children: [(String, Module)] { [("c_attn", qkvProjection), ("c_proj", outputProjection)] }

    /// Applies the layer to `input` `[batch, time, width]`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        precondition(input.rank == 3, "MultiHeadSelfAttention: input must be [batch, time, width], got \(input.shape)")
        let qkv = qkvProjection(input)
        guard isTraining && dropout > 0 else {
            return outputProjection(selfAttention(qkv, heads: heads, causal: causal))
        }
        let y = composedSelfAttention(qkv, heads: heads, causal: causal, dropout: dropout, generator: generator)
        return outputProjection(y).dropout(p: dropout, generator: generator)
    }
}

/// `selfAttention` by composed ops (matmuls, an additive −∞ mask, softmax), with dropout on the
/// probabilities: the path for training with attention dropout, and an independent check of the
/// fused kernel.
public func composedSelfAttention(_ qkv: Tensor, heads: Int, causal: Bool, dropout: Float = 0,
                                  generator: RandomGenerator = .global) -> Tensor {
    let (batch, time, width) = (qkv.shape[0], qkv.shape[1], qkv.shape[2] / 3)
    let d = width / heads
    func split(_ i: Int) -> Tensor {  // [batch, heads, time, d]
        qkv.narrowed(axis: 2, start: i * width, length: width).reshaped([batch, time, heads, d]).transposed(1, 2)
    }
    let (q, k, v) = (split(0), split(1), split(2))
    var scores = q.matmul(k.transposed()) * (1 / Float(d).squareRoot())
    if causal {
        let mask = Tensor(shape: [time, time]) { m in
            for i in 0..<time { for j in 0..<time { m[i * time + j] = j <= i ? 0 : -Float.infinity } }
        }
        scores = scores + mask
    }
    var p = scores.softmax()
    if dropout > 0 { p = p.dropout(p: dropout, generator: generator) }
    return p.matmul(v).transposed(1, 2).reshaped([batch, time, width])
}
