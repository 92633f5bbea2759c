import ArgumentParser
import Foundation
import Kiln
import KilnData
import KilnDistributed
import KilnModels

/// Options of `kiln train char-gpt|char-lstm`.
struct LanguageModelOptions: ParsableArguments {
    @Option(help: "Optimizer steps (language models).")
    var steps: Int = 2000

    @Option(help: "Evaluate on the validation text every N steps (language models).")
    var evalEvery: Int = 200

    @Option(help: "Validation batches per evaluation (language models).")
    var evalBatches: Int = 20

    @Option(help: "UTF-8 text to train on (default: DATA_DIR/shakespeare/shakespeare.txt).")
    var text: String?

    @Option(help: "Use only the first N characters of the text (e.g. 1115394 for a tiny-Shakespeare-sized corpus).")
    var maxChars: Int?

    @Option(help: "Symbols to generate after training (0 for none).")
    var sampleLength: Int = 300

    func validate() throws {
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1, got \(steps)") }
        guard evalEvery >= 1 else { throw ValidationError("--eval-every must be at least 1, got \(evalEvery)") }
        guard evalBatches >= 1 else { throw ValidationError("--eval-batches must be at least 1, got \(evalBatches)") }
        if let m = maxChars, m < 2 { throw ValidationError("--max-chars must be at least 2, got \(m)") }
        guard sampleLength >= 0 else { throw ValidationError("--sample-length must not be negative, got \(sampleLength)") }
    }
}

/// `kiln train char-gpt|char-lstm`: trains on random windows of a text, reports losses, bits per
/// character and tokens/s every `--eval-every` steps, and prints a generated sample.
func trainLanguageModel(_ kind: LanguageModelKind, options: LanguageModelOptions, batchSize: Int?, lr: Float?,
                        seed: UInt64, dataDir: String, report: String?, checkpointing: CheckpointOptions,
                        hourlyCost: Double? = nil, device: Device = .cpu, world: Communicator? = nil) throws {
    let path = options.text ?? (dataDir as NSString).appendingPathComponent("shakespeare/shakespeare.txt")
    let data = try CharTextDataset.load(file: URL(fileURLWithPath: path), maxCharacters: options.maxChars)
    let batch = batchSize ?? kind.batchSize, context = kind.contextLength
    guard data.validation.count > context else {
        throw ValidationError("\(path): the validation part (\(data.validation.count) symbols) is shorter than the context (\(context)); use a longer text")
    }
    RandomGenerator.global.reseed(seed)
    let model = kind.makeModel(vocabularySize: data.vocabulary.count, generator: .global)
    model.to(device)
    let optimizer = kind.makeOptimizer(model, learningRate: lr ?? kind.learningRate)
    let trainer = LanguageModelTrainer(model: model, optimizer: optimizer, data: data, batchSize: batch,
                                       contextLength: context, seed: seed)
    print("\(kind.rawValue): \(kind.summary); \(model.parameterCount) parameters")
    print("text \(path): \(data.train.count) train / \(data.validation.count) validation symbols, vocabulary \(data.vocabulary.count)")
    print("lr \(optimizer.learningRate), batch \(batch) × \(context), \(options.steps) steps, seed \(seed), threads \(threadCount())")
    if let world {
        trainer.dataParallel = DataParallel(communicator: world, parameters: model.parameters())
        print(describeJob(world, threads: threadCount()) + "; each takes its windows of every global batch of \(batch)")
    }
    let reports = try checkpointing.trainLanguageModel(trainer, kind: kind, vocabulary: data.vocabulary, seed: seed,
                                                       steps: options.steps, evalEvery: options.evalEvery,
                                                       evalBatches: options.evalBatches) { r in
        print(String(format: "step %5d  train loss %.4f  val loss %.4f (%.3f bits/char)  %7.0f tokens/s  %6.1fs",
                     r.step, r.trainLoss, r.validationLoss, r.validationBitsPerCharacter, r.tokensPerSecond, r.elapsed))
        if let hourlyCost, r.tokensPerSecond > 0 {
            let c = TrainingCost(units: 1e6, unitsPerSecond: r.tokensPerSecond, hourlyCost: hourlyCost)
            print(String(format: "           at $%.2f/h: a million tokens take %.1f s and cost $%.5f", hourlyCost, c.seconds, c.cost))
        }
        fflush(nil)
    }
    if options.sampleLength > 0 {
        let prompt = data.vocabulary.encode("\n") ?? [data.validation[0]]
        let sample = sampleText(from: model, vocabulary: data.vocabulary, prompt: prompt, length: options.sampleLength,
                                temperature: 0.8, generator: RandomGenerator(seed: seed))
        print("--- sample (temperature 0.8) ---")
        print(data.vocabulary.decode(sample))
    }
    if let report, let last = reports.last, world?.rank ?? 0 == 0 {
        var o = JSONObject()
        o.add("model", kind.rawValue)
        o.add("steps", options.steps)
        o.add("batch_size", batch)
        o.add("context_length", context)
        o.add("seed", Int(seed))
        o.add("threads", threadCount())
        o.add("train_loss", last.trainLoss)
        o.add("validation_loss", last.validationLoss)
        o.add("validation_bits_per_character", last.validationBitsPerCharacter)
        let seconds = reports.reduce(0.0) { $0 + $1.trainSeconds }
        o.add("tokens_per_second", Double(options.steps * batch * context) / max(seconds, 1e-9))
        o.add("seconds", last.elapsed)
        try writeFileAtomically(Array((o.description + "\n").utf8), to: report)
        print("report written to \(report)")
    }
}
