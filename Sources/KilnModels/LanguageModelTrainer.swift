import KilnData
import KilnDistributed
import KilnNN
import KilnOptim

/// What an evaluation of a language model measured.
public struct LanguageModelReport: Sendable, Equatable {
    /// Optimizer steps taken so far.
    public var step: Int
    /// Mean training loss (nats per symbol) since the previous report.
    public var trainLoss: Float
    /// Mean validation loss (nats per symbol) over the evaluation batches.
    public var validationLoss: Float
    /// Validation loss in bits per character.
    public var validationBitsPerCharacter: Float { validationLoss / Float(0.693_147_18) }
    /// Training tokens per second since the previous report (training steps only).
    public var tokensPerSecond: Double
    /// Seconds spent in training steps since the previous report.
    public var trainSeconds: Double
    /// Seconds since training started.
    public var elapsed: Double
}

/// Trains a character-level language model on random windows of a text, with periodic
/// validation, and samples from it.
public final class LanguageModelTrainer {
    /// The model.
    public let model: any CharLanguageModel
    /// The optimizer over the model's parameters.
    public let optimizer: any Optimizer
    /// The corpus.
    public let data: CharTextDataset
    /// Windows per step.
    public let batchSize: Int
    /// Symbols per window.
    public let contextLength: Int
    /// Draws the training windows.
    public let generator: RandomGenerator
    /// Steps taken (set by a resumed run).
    public internal(set) var stepCount = 0
    /// Data-parallel training over MPI ranks, or nil for one process: every rank draws the same
    /// windows and takes its rows of them (LanguageModelTrainer+Distributed.swift).
    package var dataParallel: DataParallel?

    /// A trainer; windows are drawn from a generator seeded with `seed`.
    public init(model: any CharLanguageModel, optimizer: any Optimizer, data: CharTextDataset,
                batchSize: Int, contextLength: Int, seed: UInt64) {
        self.model = model
        self.optimizer = optimizer
        self.data = data
        self.batchSize = batchSize
        self.contextLength = contextLength
        self.generator = RandomGenerator(seed: seed)
    }

    /// One step on a fresh random batch; returns the loss before the update.
    @discardableResult
    public func step() -> Float {
        let loss = computeGradients()
        optimizer.step()
        stepCount += 1
        return loss
    }

    /// The first half of ``step()``: draws a batch and fills the parameters' gradients, without
    /// updating them or counting the step (a caller that finds them non-finite may skip the update).
    public func computeGradients() -> Float {
        let (inputs, targets) = data.batch(.train, batchSize: batchSize, contextLength: contextLength, generator: generator)
        model.train()
        optimizer.zeroGrad()
        if let dataParallel { return shardGradients(inputs, targets, dataParallel) }
        let loss = crossEntropy(model.logits(inputs, batch: batchSize, time: contextLength), labels: targets)
        loss.backward()
        return loss.item
    }

    /// Mean loss over `batches` windows batches of `split`, drawn from a generator seeded with
    /// `seed` (so every evaluation sees the same windows).
    public func evaluate(_ split: CharTextDataset.Split, batches: Int, seed: UInt64 = 0x5EED) -> Float {
        model.eval()
        defer { model.train() }
        let g = RandomGenerator(seed: seed)
        var total = 0.0
        noGrad {
            for _ in 0..<batches {
                let (inputs, targets) = data.batch(split, batchSize: batchSize, contextLength: contextLength, generator: g)
                if let dataParallel {
                    total += shardLoss(inputs, targets, dataParallel)
                    continue
                }
                total += Double(crossEntropy(model.logits(inputs, batch: batchSize, time: contextLength), labels: targets).item)
            }
        }
        if let dataParallel { total = dataParallel.communicator.sum([total])[0] }
        return Float(total / Double(max(batches, 1)))
    }

    /// Trains for `steps` steps, evaluating every `evalEvery` steps and at the end on
    /// `evalBatches` validation batches.
    public func fit(steps: Int, evalEvery: Int, evalBatches: Int = 20,
                    schedule: (any LRSchedule)? = nil,
                    onReport: (LanguageModelReport) -> Void = { _ in }) -> [LanguageModelReport] {
        let clock = ContinuousClock()
        let start = clock.now
        var reports: [LanguageModelReport] = []
        var lossSum = 0.0, lossCount = 0, trainSeconds = 0.0
        for s in 0..<steps {
            if let schedule { optimizer.learningRate = schedule.learningRate(at: stepCount) }
            let t0 = clock.now
            lossSum += Double(step())
            trainSeconds += (clock.now - t0).seconds
            lossCount += 1
            if (s + 1) % max(evalEvery, 1) == 0 || s + 1 == steps {
                let report = LanguageModelReport(
                    step: stepCount, trainLoss: Float(lossSum / Double(lossCount)),
                    validationLoss: evaluate(.validation, batches: evalBatches),
                    tokensPerSecond: Double(lossCount * batchSize * contextLength) / max(trainSeconds, 1e-9),
                    trainSeconds: trainSeconds,
                    elapsed: (clock.now - start).seconds)
                reports.append(report)
                onReport(report)
                lossSum = 0; lossCount = 0; trainSeconds = 0
            }
        }
        return reports
    }
}

/// Generates `length` symbols after `prompt` by sampling from `model`'s next-symbol distribution,
/// with `temperature` (> 0) and, when given, only the `topK` most likely symbols.
public func sampleText(from model: any CharLanguageModel, vocabulary: CharVocabulary, prompt: [Int32], length: Int,
                       temperature: Float = 1, topK: Int? = nil, generator: RandomGenerator) -> [Int32] {
    precondition(temperature > 0, "sampleText: temperature must be positive, got \(temperature)")
    precondition(!prompt.isEmpty, "sampleText: the prompt must hold at least one symbol")
    model.eval()
    defer { model.train() }
    var tokens = prompt
    var produced: [Int32] = []
    noGrad {
        if let lstm = model as? CharLSTM {
            // Carry the recurrent state: feed the prompt once, then one symbol at a time.
            var (logits, state) = lstm.logits(prompt, batch: 1, time: prompt.count, state: nil)
            var last = logits[prompt.count - 1]
            for _ in 0..<length {
                let next = drawSymbol(last, temperature: temperature, topK: topK, generator: generator)
                produced.append(next)
                (logits, state) = lstm.logits([next], batch: 1, time: 1, state: state)
                last = logits[0]
            }
        } else {
            let window = (model as? GPT)?.config.contextLength ?? tokens.count
            for _ in 0..<length {
                let context = Array(tokens.suffix(window))
                let logits = model.logits(context, batch: 1, time: context.count)
                let next = drawSymbol(logits[context.count - 1], temperature: temperature, topK: topK, generator: generator)
                produced.append(next)
                tokens.append(next)
            }
        }
    }
    return produced
}

/// One symbol drawn from `logits` (1-D) scaled by 1/temperature, restricted to the top k.
func drawSymbol(_ logits: Tensor, temperature: Float, topK: Int?, generator: RandomGenerator) -> Int32 {
    var values = (logits / temperature).scalars
    if let k = topK, k > 0, k < values.count {
        let threshold = values.sorted(by: >)[k - 1]
        for i in values.indices where values[i] < threshold { values[i] = -.infinity }
    }
    let probabilities = Tensor(values).softmax().scalars
    var u = generator.nextFloat()
    for (i, p) in probabilities.enumerated() {
        if u < p { return Int32(i) }
        u -= p
    }
    return Int32(probabilities.lastIndex { $0 > 0 } ?? 0)
}

/// The character-level models `kiln train` knows.
public enum LanguageModelKind: String, CaseIterable, Sendable {
    /// The `gpt` workload's model.
    case charGPT = "char-gpt"
    /// The `lstm` workload's model.
    case charLSTM = "char-lstm"

    /// A one-line description.
    public var summary: String {
        switch self {
        case .charGPT: "GPT, 4 layers × 4 heads, width 128, context 128, tied embeddings"
        case .charLSTM: "Embedding 64 → LSTM 256 → Linear, 64-symbol windows"
        }
    }

    /// Windows per step in the reference configuration.
    public var batchSize: Int { self == .charGPT ? 32 : 64 }
    /// Symbols per window.
    public var contextLength: Int { self == .charGPT ? 128 : 64 }
    /// Reference learning rate.
    public var learningRate: Float { self == .charGPT ? 1e-3 : 2e-3 }

    /// The model for `vocabularySize` symbols, initialised from `generator`.
    public func makeModel(vocabularySize: Int, generator: RandomGenerator) -> any CharLanguageModel {
        switch self {
        case .charGPT: GPT(.reference(vocabularySize: vocabularySize), generator: generator)
        case .charLSTM: CharLSTM(vocabularySize: vocabularySize, generator: generator)
        }
    }

    /// The reference optimizer: AdamW (β2 0.99, decay 0.1 on matrices) for the GPT, Adam for the LSTM.
    public func makeOptimizer(_ model: any CharLanguageModel, learningRate: Float) -> any Optimizer {
        switch self {
        case .charGPT: gptOptimizer(model, learningRate: learningRate)
        case .charLSTM: Adam(model.parameters(), learningRate: learningRate)
        }
    }
}
