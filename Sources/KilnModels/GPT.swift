import KilnNN

/// A character-level model: maps `[batch, time]` token ids to `[batch·time, vocabulary]` logits.
public protocol CharLanguageModel: Module {
    /// Symbols in the vocabulary.
    var vocabularySize: Int { get }
    /// Logits for every position of `tokens` (row-major `[batch, time]`), as `[batch·time, vocabulary]`.
    func logits(_ tokens: [Int32], batch: Int, time: Int) -> Tensor
}

/// The shape of a GPT.
public struct GPTConfig: Sendable, Equatable {
    /// Symbols in the vocabulary.
    public var vocabularySize: Int
    /// Longest context (learned positions).
    public var contextLength: Int
    /// Transformer blocks.
    public var layers: Int
    /// Attention heads per block.
    public var heads: Int
    /// Embedding width.
    public var width: Int

    /// The `gpt` reference workload: 4 layers, 4 heads, width 128, context 128.
    public static func reference(vocabularySize: Int = 65) -> GPTConfig {
        GPTConfig(vocabularySize: vocabularySize, contextLength: 128, layers: 4, heads: 4, width: 128)
    }

    /// A configuration.
    public init(vocabularySize: Int, contextLength: Int, layers: Int, heads: Int, width: Int) {
        self.vocabularySize = vocabularySize
        self.contextLength = contextLength
        self.layers = layers
        self.heads = heads
        self.width = width
    }
}

/// The `gpt` reference workload, nanoGPT's shape: token and learned position embeddings, pre-norm
/// transformer blocks without biases (exact GELU, causal attention, dropout 0), a final LayerNorm
/// without bias, and an output projection tied to the token embedding. Initialised as nanoGPT:
/// weights N(0, 0.02), residual projections N(0, 0.02/√(2·layers)), LayerNorm weights 1.
/// Names: `wte.weight`, `wpe.weight`, `h.0.ln_1.weight`, `h.0.attn.c_attn.weight`, …, `ln_f.weight`.
public final class GPT: Module, CharLanguageModel {
    /// Token embedding, also the output projection.
    public let wte: Embedding
    /// Position embedding.
    public let wpe: Embedding
    /// The transformer blocks.
    public let h: [TransformerBlock]
    /// The final LayerNorm.
    public let ln_f: LayerNorm
    /// The shape.
    public let config: GPTConfig

    /// A GPT of `config`, initialised from `generator`.
    public init(_ config: GPTConfig, generator: RandomGenerator = .global) {
        self.config = config
        wte = Embedding(config.vocabularySize, config.width, generator: generator)
        wpe = Embedding(config.contextLength, config.width, generator: generator)
        h = (0..<config.layers).map { _ in
            TransformerBlock(width: config.width, heads: config.heads, bias: false, generator: generator)
        }
        ln_f = LayerNorm(config.width, bias: false)
        super.init()
        let residualStd = 0.02 / Float(2 * config.layers).squareRoot()
        for (name, p) in namedParameters() where p.shape.count == 2 {
            let std: Float = name.hasSuffix("c_proj.weight") ? residualStd : 0.02
            p.assign(Tensor.normal(p.shape, std: std, generator: generator))
        }
    }

    public var vocabularySize: Int { config.vocabularySize }

    /// Logits `[batch·time, vocabulary]` for `tokens` `[batch, time]` (time ≤ context length).
    public func logits(_ tokens: [Int32], batch: Int, time: Int) -> Tensor {
        precondition(time <= config.contextLength, "GPT: \(time) tokens exceed the context length \(config.contextLength)")
        let positions = (0..<Int32(time)).map { $0 }
        var x = wte(tokens, shape: [batch, time]) + wpe(positions, shape: [time])
        for block in h { x = block(x) }
        x = ln_f(x).reshaped([batch * time, config.width])
        return linear(x, weight: wte.weight.value, bias: nil)
    }
}

/// The `lstm` reference workload: Embedding(vocabulary, 64) → one LSTM layer (64 → 256) →
/// Linear(256, vocabulary) at every position. Names: `embedding.weight`, `lstm.weight_ih_l0`, …,
/// `head.weight`.
public final class CharLSTM: Module, CharLanguageModel {
    /// Token embedding.
    public let embedding: Embedding
    /// The recurrent layer.
    public let lstm: LSTM
    /// Output projection.
    public let head: Linear

    /// The model for `vocabularySize` symbols.
    public init(vocabularySize: Int = 65, embeddingSize: Int = 64, hiddenSize: Int = 256,
                generator: RandomGenerator = .global) {
        embedding = Embedding(vocabularySize, embeddingSize, generator: generator)
        lstm = LSTM(inputSize: embeddingSize, hiddenSize: hiddenSize, generator: generator)
        head = Linear(hiddenSize, vocabularySize, generator: generator)
        super.init()
    }

    public var vocabularySize: Int { embedding.count }

    public func logits(_ tokens: [Int32], batch: Int, time: Int) -> Tensor {
        logits(tokens, batch: batch, time: time, state: nil).logits
    }

    /// Logits and the final recurrent state, continuing from `state` (for sampling step by step).
    public func logits(_ tokens: [Int32], batch: Int, time: Int, state: (h: Tensor, c: Tensor)?)
        -> (logits: Tensor, state: (h: Tensor, c: Tensor)) {
        // The embedded path: the LSTM reads each token's row of (embedding · W_ihᵀ) instead of
        // projecting every embedded position (same values and gradients, fewer FLOPs).
        let (output, next) = lstm(tokens, shape: [batch, time], embedding: embedding, state: state)
        return (head(output.reshaped([batch * time, lstm.hiddenSize])), next)
    }
}
