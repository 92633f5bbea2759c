import Kiln

/// The transformer's position-wise MLP as in nanoGPT: `c_fc` (`width → 4·width`), exact GELU,
/// `c_proj` (`4·width → width`), then dropout.
public final class FeedForward: Module, Layer {
    /// `width → 4·width`.
    public let expand: Linear
    /// `4·width → width`.
    public let project: Linear
    /// Dropout probability on the output.
    public let dropout: Float
    let generator: RandomGenerator

    /// An MLP of `width` features with a hidden layer 4 times as wide.
    public init(width: Int, bias: Bool = true, dropout: Float = 0, generator: RandomGenerator = .global) {
        expand = Linear(width, 4 * width, bias: bias, generator: generator)
        project = Linear(4 * width, width, bias: bias, generator: generator)
        self.dropout = dropout
        self.generator = generator
        super.init()
    }

    /// nanoGPT's names.
    public override var children: [(String, Module)] { [("c_fc", expand), ("c_proj", project)] }

    /// Applies the layer to `input` `[..., width]`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        let y = project(expand(input).gelu())
        return isTraining && dropout > 0 ? y.dropout(p: dropout, generator: generator) : y
    }
}

/// A pre-norm transformer block as nanoGPT's `Block`: `x + attn(ln_1(x))`, then
/// `x + mlp(ln_2(x))`, with causal multi-head self-attention and a GELU MLP 4× wide. State-dict
/// names: `ln_1`, `attn.c_attn`, `attn.c_proj`, `ln_2`, `mlp.c_fc`, `mlp.c_proj`.
public final class TransformerBlock: Module, Layer {
    /// Normalization before attention.
    public let norm1: LayerNorm
    /// Causal self-attention.
    public let attention: MultiHeadSelfAttention
    /// Normalization before the MLP.
    public let norm2: LayerNorm
    /// The position-wise MLP.
    public let mlp: FeedForward

    /// A block of `width` features and `heads` heads; `bias` applies to the linear layers and the
    /// layer norms alike (nanoGPT's `bias` flag).
    public init(width: Int, heads: Int, bias: Bool = true, dropout: Float = 0, generator: RandomGenerator = .global) {
        norm1 = LayerNorm(width, bias: bias)
        attention = MultiHeadSelfAttention(width: width, heads: heads, bias: bias, causal: true,
                                           dropout: dropout, generator: generator)
        norm2 = LayerNorm(width, bias: bias)
        mlp = FeedForward(width: width, bias: bias, dropout: dropout, generator: generator)
        super.init()
    }

    /// nanoGPT's names.
    public override var children: [(String, Module)] {
        [("ln_1", norm1), ("attn", attention), ("ln_2", norm2), ("mlp", mlp)]
    }

    /// Applies the block to `input` `[batch, time, width]`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        let x = input + attention(norm1(input))
        return x + mlp(norm2(x))
    }
}
