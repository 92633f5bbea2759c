import Foundation
import Testing
@testable import KilnModels
import KilnData
import KilnNN

private func tempPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("kiln-lm-\(UInt32.random(in: 0...UInt32.max))-\(name)").path
}

@Test func languageModelFileRoundTripsWeightsAndVocabulary() throws {
    let vocabulary = CharVocabulary(text: "to be, or not to be\n")
    let model = CharLSTM(vocabularySize: vocabulary.count, generator: RandomGenerator(seed: 5))
    let path = tempPath("lstm.safetensors")
    defer { try? FileManager.default.removeItem(atPath: path) }
    try LanguageModelFile.save(model, kind: .charLSTM, vocabulary: vocabulary, to: path)
    let loaded = try LanguageModelFile(contentsOf: path)
    #expect(loaded.kind == .charLSTM)
    #expect(loaded.vocabulary == vocabulary)
    let tokens = vocabulary.encode("not to be")!
    let expected = noGrad { model.logits(tokens, batch: 1, time: tokens.count) }.scalars
    #expect(noGrad { loaded.model.logits(tokens, batch: 1, time: tokens.count) }.scalars == expected)
}

@Test func languageModelFileRejectsForeignFiles() throws {
    let path = tempPath("plain.safetensors")
    defer { try? FileManager.default.removeItem(atPath: path) }
    try Linear(2, 2).saveSafeTensors(to: path)
    #expect(throws: SafeTensorsError.self) { try LanguageModelFile(contentsOf: path) }
}

@Test func gptHasTheReferenceShapeAndTiedOutput() {
    let model = GPT(.reference(vocabularySize: 65), generator: RandomGenerator(seed: 1))
    // BENCHMARKS.md: 0.81 M parameters (the output projection is the token embedding).
    #expect(model.parameterCount == 65 * 128 + 128 * 128 + 4 * (2 * 128 + 4 * 128 * 128 + 8 * 128 * 128) + 128)
    #expect(Swift.abs(Double(model.parameterCount) - 0.81e6) < 0.01e6)
    let names = model.namedParameters().map(\.0)
    #expect(names.contains("h.3.attn.c_attn.weight") && names.contains("h.0.mlp.c_proj.weight") && names.last == "ln_f.weight")
    // Tied: a loss on the logits gives the embedding gradient from both uses.
    let tokens: [Int32] = [1, 2, 3, 4]
    let loss = crossEntropy(model.logits(tokens, batch: 1, time: 4), labels: [2, 3, 4, 5])
    loss.backward()
    #expect(model.wte.weight.grad != nil)
    // Rows of tokens never seen as input still get gradient through the output projection.
    #expect(model.wte.weight.grad!.scalars[(10 * 128)..<(11 * 128)].contains { $0 != 0 })
}

@Test func samplingFollowsTemperatureAndTopK() {
    // Logits favouring symbol 2 strongly: top-1 always picks it; a high temperature spreads choices.
    let logits = Tensor([0, 1, 5, 0.5])
    let g = RandomGenerator(seed: 9)
    #expect((0..<50).allSatisfy { _ in drawSymbol(logits, temperature: 1, topK: 1, generator: g) == 2 })
    let spread = Set((0..<400).map { _ in drawSymbol(logits, temperature: 10, topK: nil, generator: g) })
    #expect(spread == [0, 1, 2, 3])
    let top2 = Set((0..<400).map { _ in drawSymbol(logits, temperature: 10, topK: 2, generator: g) })
    #expect(top2 == [1, 2])
}
