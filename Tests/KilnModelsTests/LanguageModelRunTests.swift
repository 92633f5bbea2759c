import Foundation
import Testing
@testable import KilnModels
import KilnData
import KilnNN
import KilnOptim

private let corpus = String(repeating: "to be, or not to be, that is the question: whether 'tis nobler in the mind to suffer\n", count: 12)

/// A fresh "process": a tiny GPT, AdamW in two groups (as the reference recipe), windows seeded.
private func makeRun(_ options: RunOptions, steps: Int = 24) -> LanguageModelRun {
    let data = CharTextDataset(text: corpus)
    let model = GPT(GPTConfig(vocabularySize: data.vocabulary.count, contextLength: 16, layers: 1, heads: 2, width: 16),
                    generator: RandomGenerator(seed: 3))
    let optimizer = LanguageModelKind.charGPT.makeOptimizer(model, learningRate: 3e-3)
    let trainer = LanguageModelTrainer(model: model, optimizer: optimizer, data: data, batchSize: 4, contextLength: 16, seed: 3)
    let run = LanguageModelRun(trainer: trainer, steps: steps, evalEvery: 5, evalBatches: 2,
                               schedule: CosineAnnealing(baseLearningRate: 3e-3, tMax: 24), options: options,
                               identity: [("model", "tiny-gpt")], modelMetadata: ["kiln.model": "char-gpt"])
    // The window generator and the model's own (not the global one, which parallel tests use).
    run.generators = [("windows", trainer.generator)] + model.namedRandomGenerators()
    return run
}

private func directory(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("kiln-lmrun-\(name)-\(UInt32.random(in: 0...UInt32.max))").path
}

private func lines(_ path: String, _ event: String) throws -> [String] {
    try MetricsLog.read(path).records.filter { $0["event"]?.string == event }.map { r in
        (r.members ?? []).filter { !["wall_seconds", "tokens_per_second", "rss_bytes"].contains($0.key) }
            .map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }
}

@Suite(.serialized) struct LanguageModelRunTests {
    @Test func aPlainRunTrainsExactlyAsFit() throws {
        let reports = try makeRun(RunOptions()).run()
        let reference = makeRun(RunOptions())
        let fitted = reference.trainer.fit(steps: 24, evalEvery: 5, evalBatches: 2,
                                           schedule: CosineAnnealing(baseLearningRate: 3e-3, tMax: 24))
        #expect(reports.map(\.step) == fitted.map(\.step))
        #expect(reports.map(\.trainLoss) == fitted.map(\.trainLoss))
        #expect(reports.map(\.validationLoss) == fitted.map(\.validationLoss))
    }

    @Test func resumingAfterACrashAtAnyPhaseGivesTheSameLossesBitForBit() throws {
        let base = directory("reference")
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        let reference = try makeRun(RunOptions(logPath: base + "/log.jsonl")).run()
        let expectedSteps = try lines(base + "/log.jsonl", "step")
        let expectedEvals = try lines(base + "/log.jsonl", "eval")
        #expect(expectedSteps.count == 24 && expectedEvals.count == 5)
        for (trial, phase) in CheckpointWritePhase.allCases.enumerated() {
            let dir = directory("crash-\(trial)")
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let options = RunOptions(checkpointDirectory: dir + "/ckpt", checkpointEvery: 3, keep: 2, resume: true,
                                     logPath: dir + "/log.jsonl")
            let crashStep = 3 * (1 + trial)
            let first = makeRun(options)
            first.checkpoints?.faultInjection = { p, s in p == phase && s == crashStep }
            #expect(throws: TrainingError.checkpoint(.simulatedCrash(phase))) { try first.run() }
            let second = makeRun(options)
            let reports = try second.run()
            #expect(second.resumedFrom?.step == (phase == .renamed ? crashStep : crashStep - 3 == 0 ? nil : crashStep - 3))
            #expect(try lines(dir + "/log.jsonl", "step") == expectedSteps, "crash at \(phase) of step \(crashStep)")
            #expect(try lines(dir + "/log.jsonl", "eval") == expectedEvals)
            #expect(reports.map(\.validationLoss) == reference.map(\.validationLoss))
            // The checkpoint's model file is what `kiln sample` reads.
            let file = try SafeTensors(contentsOf: modelFile(at: dir + "/ckpt"))
            #expect(file.metadata["kiln.model"] == "char-gpt" && file.metadata["kiln.step"] == "24")
        }
    }
}

@Test func languageModelLogsPlotTheirValidationLoss() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-lmplot-\(UInt32.random(in: 0...UInt32.max))").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    _ = try makeRun(RunOptions(logPath: dir + "/lm.jsonl"), steps: 10).run()
    let run = try MetricsRun(contentsOf: dir + "/lm.jsonl")
    #expect(run.steps.count == 10 && run.validationLoss.count == 2 && run.accuracy.isEmpty)
    let svg = metricsPlotSVG([run])
    #expect(svg.contains(">Validation loss<") && svg.contains("final validation loss"))
}
