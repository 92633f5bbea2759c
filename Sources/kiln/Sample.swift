import ArgumentParser
import Kiln
import KilnModels

struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text from a character-level model saved by `kiln train char-gpt|char-lstm --save-model FILE` or a checkpoint.")

    @Option(help: "The model file (safetensors with Kiln's metadata), a checkpoint, or a checkpoint directory (its newest).")
    var model: String

    @Option(help: "Text to continue (every symbol must be in the model's vocabulary).")
    var prompt: String = "\n"

    @Option(help: "Symbols to generate.")
    var length: Int = 500

    @Option(help: "Sampling temperature (> 0): lower is more conservative.")
    var temperature: Float = 0.8

    @Option(help: "Sample only among the k most likely symbols.")
    var topK: Int?

    @Option(help: "Seed of the sampling.")
    var seed: UInt64 = 1

    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        guard length >= 1 else { throw ValidationError("--length must be at least 1, got \(length)") }
        guard temperature > 0 && temperature.isFinite else { throw ValidationError("--temperature must be positive, got \(temperature)") }
        if let k = topK, k < 1 { throw ValidationError("--top-k must be at least 1, got \(k)") }
        guard !prompt.isEmpty else { throw ValidationError("--prompt must not be empty") }
    }

    func run() throws {
        setThreadCount(compute.threads)
        let file = try LanguageModelFile(contentsOf: modelFile(at: model))  // a file or a checkpoint (directory)
        guard let tokens = file.vocabulary.encode(prompt) else {
            let c = file.vocabulary.firstUnknown(in: prompt)!
            throw ValidationError("--prompt: symbol \(String(reflecting: String(c))) is not in the model's vocabulary of \(file.vocabulary.count) symbols")
        }
        let generated = sampleText(from: file.model, vocabulary: file.vocabulary, prompt: tokens, length: length,
                                   temperature: temperature, topK: topK, generator: RandomGenerator(seed: seed))
        print(prompt + file.vocabulary.decode(generated))
    }
}
