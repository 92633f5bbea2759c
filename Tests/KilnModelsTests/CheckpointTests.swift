import Foundation
import Testing
@testable import KilnModels
import KilnData
import KilnNN
import KilnOptim

/// 1500 training and 297 test samples of the real 8×8 digits fixture.
private func digits() throws -> (train: LabeledDataset, test: LabeledDataset) {
    let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("digits.csv")
    let all = try Digits.load(csv: url)
    let order = RandomGenerator(seed: 7).permutation(all.count)
    return (all.subset(order.prefix(1500)), all.subset(order.dropFirst(1500)))
}

/// A fresh "process": the model and optimizer built from the seed alone, as `kiln train` builds
/// them. Dropout draws from its own generator (not the global one), which the checkpoint must find.
private func makeRun(_ data: (train: LabeledDataset, test: LabeledDataset), options: RunOptions,
                     epochs: Int = 2, batchSize: Int = 32, seed: UInt64 = 5) -> ClassifierRun {
    let generator = RandomGenerator(seed: seed)
    let model = Sequential(Linear(64, 64, generator: generator), ReLU(), Dropout(0.2, generator: generator),
                           Linear(64, 10, generator: generator))
    let optimizer = Adam(model.parameters(), learningRate: 3e-3)
    let trainer = ClassifierTrainer(model: model, optimizer: optimizer, batchSize: batchSize, seed: seed,
                                    schedule: CosineAnnealing(baseLearningRate: 3e-3, tMax: 94))
    let run = ClassifierRun(trainer: trainer, train: data.train, test: data.test, epochs: epochs, options: options,
                            identity: [("model", "digits-mlp"), ("batch_size", String(batchSize))])
    // Only the model's own generator: tests running in parallel draw from the global one. (The
    // default, global included, is what `KillResumeTests` exercises in a separate process.)
    run.generators = model.namedRandomGenerators()
    return run
}

private func temporaryDirectory(_ name: String) -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
        "kiln-ckpt-\(name)-\(UInt32.random(in: 0...UInt32.max))").path
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// The step records of a metrics log as (step, loss text, lr text): compared as text, so bit for bit.
private func stepLines(_ path: String) throws -> [String] {
    try MetricsLog.read(path).records.compactMap { r -> String? in
        guard r["event"]?.string == "step" else { return nil }
        return "\(r["step"]!) \(r["epoch"]!) \(r["batch"]!) \(r["loss"]!) \(r["lr"]!)"
    }
}

private func evalLines(_ path: String) throws -> [String] {
    try MetricsLog.read(path).records.compactMap { r -> String? in
        guard r["event"]?.string == "eval" else { return nil }
        return "\(r["step"]!) \(r["train_loss"]!) \(r["val_loss"]!) \(r["accuracy"]!)"
    }
}

private func parameterBits(_ run: ClassifierRun) -> [[UInt32]] {
    run.trainer.model.parameters().map { $0.value.scalars.map(\.bitPattern) }
}

/// A counter shared with a `@Sendable` fault-injection closure.
private final class Counter: @unchecked Sendable {
    var value = 0
}

@Suite(.serialized) struct CheckpointTests {
    @Test func aPlainRunTrainsExactlyAsFit() throws {
        let data = try digits()
        let run = makeRun(data, options: RunOptions())
        var losses: [Float] = []
        run.onStep = { losses.append($0.loss) }
        let reports = try run.run()
        let fitted = makeRun(data, options: RunOptions()).trainer.fit(train: data.train, test: data.test, epochs: 2)
        #expect(reports.map(\.trainLoss) == fitted.map(\.trainLoss))
        #expect(reports.map(\.testLoss) == fitted.map(\.testLoss))
        #expect(losses.count == 94)
    }

    @Test func anEpochStartedAtABatchContinuesWithTheSameBatches() throws {
        let data = try digits()
        let a = makeRun(data, options: RunOptions()).trainer
        var all: [Float] = []
        _ = a.trainEpoch(data.train, epoch: 1, onStep: { all.append($1) })
        // Steps 0..<20 by hand, then the rest of the epoch from batch 20.
        let b = makeRun(data, options: RunOptions()).trainer
        let batches = b.epochBatches(data.train, epoch: 1)
        var parts = (0..<20).map { b.step(batches[$0]) }
        var indices: [Int] = []
        _ = b.trainEpoch(data.train, epoch: 1, startingAt: 20, onStep: { i, l in
            indices.append(i)
            parts.append(l)
        })
        #expect(indices == Array(20..<47))
        #expect(parts == all)
    }

    @Test func resumingAfterACrashAtAnyPhaseGivesTheSameLossesBitForBit() throws {
        let data = try digits()
        let referenceDirectory = temporaryDirectory("reference")
        defer { try? FileManager.default.removeItem(atPath: referenceDirectory) }
        let referenceLog = referenceDirectory + "/log.jsonl"
        let reference = makeRun(data, options: RunOptions(logPath: referenceLog))
        let referenceReports = try reference.run()
        let expectedSteps = try stepLines(referenceLog)
        #expect(expectedSteps.count == 94)

        let rng = RandomGenerator(seed: 0xC4A5)
        let phases = CheckpointWritePhase.allCases
        for trial in 0..<5 {
            let directory = temporaryDirectory("crash-\(trial)")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let log = directory + "/log.jsonl"
            let options = RunOptions(checkpointDirectory: directory + "/ckpt", checkpointEvery: 10, keep: 2,
                                     resume: true, logPath: log)
            // Crash during the save of a random checkpoint, at each phase in turn (a crash right after
            // a step is the `.started` phase: nothing of the new checkpoint on disk).
            let crashStep = 10 * (1 + rng.nextInt(below: 9))
            let crashPhase = phases[trial]
            let first = makeRun(data, options: options)
            first.checkpoints?.faultInjection = { phase, step in phase == crashPhase && step == crashStep }
            #expect(throws: TrainingError.checkpoint(.simulatedCrash(crashPhase))) { try first.run() }

            // A new "process" resumes from what is on disk.
            let second = makeRun(data, options: options)
            let reports = try second.run()
            let resumedStep = second.resumedFrom?.step ?? 0
            let expectedResume = crashPhase == .renamed ? crashStep : crashStep - 10
            #expect(resumedStep == expectedResume, "trial \(trial): crash at \(crashPhase) of step \(crashStep)")
            #expect(try stepLines(log) == expectedSteps, "trial \(trial): crash at \(crashPhase) of step \(crashStep)")
            #expect(try evalLines(log) == evalLines(referenceLog))
            #expect(reports.map(\.trainLoss) == referenceReports.map(\.trainLoss))
            #expect(reports.map(\.testAccuracy) == referenceReports.map(\.testAccuracy))
            #expect(parameterBits(second) == parameterBits(reference))
            // The newest 2 remain, the last one the final state; no partial directory is left.
            let names = try FileManager.default.contentsOfDirectory(atPath: directory + "/ckpt").sorted()
            #expect(names.count == 2 && names.last == CheckpointDirectory.name(step: 94), "\(names)")
        }
    }

    @Test func aLongerRunContinuesFromTheFinalCheckpoint() throws {
        let data = try digits()
        let directory = temporaryDirectory("extend")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let options = RunOptions(checkpointDirectory: directory, checkpointEvery: 1000, resume: true)
        _ = try makeRun(data, options: options, epochs: 1).run()
        #expect(CheckpointDirectory(directory).latest()?.step == 47)
        let reports = try makeRun(data, options: options, epochs: 2).run()
        let reference = try makeRun(data, options: RunOptions(), epochs: 2).run()
        #expect(reports.map(\.trainLoss) == reference.map(\.trainLoss))
        // Resuming a finished run trains nothing more and returns its reports.
        let again = makeRun(data, options: options, epochs: 2)
        #expect(try again.run().map(\.testLoss) == reference.map(\.testLoss))
        #expect(again.trainer.stepCount == 94)
    }

    @Test func aFullDiskOrUnwritableDirectoryLeavesThePreviousCheckpointIntact() throws {
        let data = try digits()
        let directory = temporaryDirectory("full")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Unwritable: the checkpoint directory would be inside a regular file.
        let file = directory + "/plain-file"
        #expect(FileManager.default.createFile(atPath: file, contents: Data([1])))
        let blocked = makeRun(data, options: RunOptions(checkpointDirectory: file + "/ckpt", checkpointEvery: 5))
        do {
            _ = try blocked.run()
            Issue.record("saved into a file")
        } catch {
            guard case .checkpoint(.unwritable) = error else { Issue.record("\(error)"); return }
        }

        // Full disk: the second checkpoint's optimizer file goes to /dev/full (ENOSPC).
        let run = makeRun(data, options: RunOptions(checkpointDirectory: directory + "/ckpt", checkpointEvery: 5))
        let saves = Counter()
        run.checkpoints?.writeFile = { bytes, path throws(FileWriteError) in
            if path.hasSuffix("optimizer.safetensors") {
                saves.value += 1
                if saves.value == 2 { try writeFileSynced(bytes, to: "/dev/full"); return }
            }
            try writeFileSynced(bytes, to: path)
        }
        do {
            _ = try run.run()
            Issue.record("a full disk went unnoticed")
        } catch {
            guard case .checkpoint(.unwritable(let e)) = error else { Issue.record("\(error)"); return }
            #expect(e.reason.contains("No space left on device"))
            #expect(error.description.contains("/dev/full"))
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: directory + "/ckpt")
        #expect(names == [CheckpointDirectory.name(step: 5)], "no partial directory is left: \(names)")
        // The earlier checkpoint still loads and resumes.
        let resumed = makeRun(data, options: RunOptions(checkpointDirectory: directory + "/ckpt", checkpointEvery: 1000,
                                                        resume: true))
        let reports = try resumed.run()
        #expect(resumed.resumedFrom?.step == 5)
        #expect(reports.map(\.trainLoss) == (try makeRun(data, options: RunOptions()).run()).map(\.trainLoss))
    }

    @Test func aDamagedOrMismatchedCheckpointIsATypedErrorAndChangesNothing() throws {
        let data = try digits()
        let directory = temporaryDirectory("damaged")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try makeRun(data, options: RunOptions(checkpointDirectory: directory, checkpointEvery: 10), epochs: 1).run()
        let latest = try #require(CheckpointDirectory(directory).latest())

        func expectRefusal(_ run: ClassifierRun, _ check: (TrainingError) -> Bool) {
            let before = parameterBits(run)
            let dropout = run.trainer.model.namedRandomGenerators()[0].1
            let stream = dropout.snapshot
            do {
                _ = try run.run()
                Issue.record("resumed from a bad checkpoint")
            } catch {
                #expect(check(error), "\(error)")
            }
            #expect(parameterBits(run) == before)
            #expect(dropout.snapshot == stream)
            #expect(run.trainer.stepCount == 0)
        }
        let resume = RunOptions(checkpointDirectory: directory, checkpointEvery: 10, resume: true)
        // A different batch size: the identity check names the field.
        expectRefusal(makeRun(data, options: resume, batchSize: 16)) { error in
            error == .checkpoint(.mismatch(file: latest.path + "/trainer.json", field: "batch_size", expected: "16", found: "32"))
        }
        // A truncated optimizer file: named, with the byte counts.
        let optimizerFile = latest.path + "/optimizer.safetensors"
        let optimizerBytes = try Data(contentsOf: URL(fileURLWithPath: optimizerFile))
        try optimizerBytes.prefix(optimizerBytes.count - 10).write(to: URL(fileURLWithPath: optimizerFile))
        expectRefusal(makeRun(data, options: resume)) { error in
            guard case .checkpoint(.file(let e)) = error else { return false }
            return e.file == optimizerFile && error.description.contains(optimizerFile)
        }
        try optimizerBytes.write(to: URL(fileURLWithPath: optimizerFile))
        // A model file of another shape.
        let modelFile = latest.path + "/model.safetensors"
        let modelBytes = try Data(contentsOf: URL(fileURLWithPath: modelFile))
        try Linear(64, 10).saveSafeTensors(to: modelFile)
        expectRefusal(makeRun(data, options: resume)) { error in
            guard case .checkpoint(.file(let e)) = error else { return false }
            return e.file == modelFile && e.tensor == "0.weight"
        }
        try modelBytes.write(to: URL(fileURLWithPath: modelFile))
        // Damaged trainer.json.
        let jsonFile = latest.path + "/trainer.json"
        let json = try String(contentsOfFile: jsonFile, encoding: .utf8)
        try json.replacingOccurrences(of: "\"epoch_loss_sum\":", with: "\"epoch_loss_sum\":\"oops\",\"x\":")
            .write(toFile: jsonFile, atomically: true, encoding: .utf8)
        expectRefusal(makeRun(data, options: resume)) { error in
            error.description == "\(jsonFile): field 'epoch_loss_sum': expected a number, found \"oops\""
        }
    }

    @Test func nonFiniteValuesStopTheRunOrAreSkipped() throws {
        let data = try digits()
        // Sample 100 of the training set becomes NaN.
        var features = (0..<data.train.count).flatMap { data.train.features(at: $0) }
        for j in 0..<64 { features[100 * 64 + j] = .nan }
        let poisoned = LabeledDataset(features: features, labels: data.train.labels, sampleShape: [64], classCount: 10)
        let stopping = makeRun((poisoned, data.test), options: RunOptions())
        do {
            _ = try stopping.run()
            Issue.record("a NaN loss went unnoticed")
        } catch {
            guard case .nonFinite(let step, let epoch, let batch, let loss, let parameter) = error else {
                Issue.record("\(error)"); return
            }
            // ReLU turns the NaN inputs into zeros, so the loss stays finite; the first layer's
            // weight gradient (input × upstream gradient) does not.
            #expect(epoch == 1 && step == batch && parameter == "0.weight", "\(error)")
            _ = loss
            #expect(error.description.contains("step \(step)") && error.description.contains("'0.weight'"))
        }
        let directory = temporaryDirectory("skip")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let skipping = makeRun((poisoned, data.test), options: RunOptions(logPath: directory + "/log.jsonl", skipNonFinite: true))
        let reports = try skipping.run()
        #expect(skipping.skippedSteps == 2)  // the poisoned sample's batch, once per epoch
        #expect(reports.allSatisfy { $0.trainLoss.isFinite && $0.testLoss.isFinite })
        #expect(skipping.trainer.model.parameters().allSatisfy { allFinite($0.value) })
        let skips = try MetricsLog.read(directory + "/log.jsonl").records.filter { $0["event"]?.string == "skip" }
        #expect(skips.count == 2 && skips.allSatisfy { $0["parameter"]?.string == "0.weight" })
    }

    @Test func optimizerStateSurvivesSafeTensors() throws {
        let p = Parameter(Tensor([1, 2, 3]))
        let adam = Adam([p], learningRate: 0.0123, amsgrad: true)
        p.grad = Tensor([0.1, -0.2, 0.3])
        adam.step()
        let file = try SafeTensors(bytes: adam.saveState().safeTensorsBytes(), path: "optimizer.safetensors")
        let state = try OptimizerState(file)
        let other = Adam([Parameter(Tensor([1, 2, 3]))], learningRate: 1, amsgrad: true)
        try other.loadState(state)
        #expect(other.learningRate == 0.0123 && other.stepCount == 1 && other.states[0]?.step == 1)
        #expect(other.states[0]?.expAvgSq.scalars == adam.states[0]?.expAvgSq.scalars)
    }

    @Test func weightsLoadFromAFileACheckpointOrACheckpointDirectory() throws {
        let data = try digits()
        let directory = temporaryDirectory("weights")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let run = makeRun(data, options: RunOptions(checkpointDirectory: directory + "/ckpt", checkpointEvery: 1000), epochs: 1)
        _ = try run.run()
        try run.trainer.model.saveSafeTensors(to: directory + "/final.safetensors")
        for source in [directory + "/final.safetensors", directory + "/ckpt", directory + "/ckpt/" + CheckpointDirectory.name(step: 47)] {
            let fresh = makeRun(data, options: RunOptions(), seed: 99)
            try loadWeights(fresh.trainer.model, from: source)
            #expect(parameterBits(fresh) == parameterBits(run), "\(source)")
        }
        #expect(throws: CheckpointError.self) { try loadWeights(Linear(2, 2), from: directory + "/nothing") }
    }
}

@Suite struct MetricsPlotTests {
    @Test func plotsEveryRunWithLegendAxesAndUnits() throws {
        let directory = temporaryDirectory("plot")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let data = try digits()
        _ = try makeRun(data, options: RunOptions(logPath: directory + "/a.jsonl")).run()
        _ = try makeRun(data, options: RunOptions(logPath: directory + "/b.jsonl"), seed: 9).run()
        // A torn last line (a crash while writing) is skipped, not fatal.
        let handle = try #require(FileHandle(forWritingAtPath: directory + "/b.jsonl"))
        handle.seekToEndOfFile()
        handle.write(Data("{\"event\":\"step\",\"st".utf8))
        handle.closeFile()
        let a = try MetricsRun(contentsOf: directory + "/a.jsonl")
        let b = try MetricsRun(contentsOf: directory + "/b.jsonl", label: "seed 9")
        #expect(a.label == "a" && a.steps.count == 94 && a.accuracy.count == 2 && a.validationLoss.count == 2)
        #expect(b.skippedLines == 1)
        let svg = metricsPlotSVG([a, b], title: "digits")
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"))
        for text in ["digits", "Loss", "Validation accuracy", "training step", "cross-entropy (nats)", "accuracy (%)",
                     ">a (final accuracy", ">seed 9 (final accuracy"] {
            #expect(svg.contains(text), "\(text)")
        }
        // Per run: every step (faint), the moving average, validation loss (loss panel), accuracy.
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 8)
        #expect(!svg.contains("nan") && !svg.contains("inf"))
    }
}

/// Batch norm's running statistics are buffers: a resumed run must restore them too.
@Test func resumingRestoresBatchNormBuffers() throws {
    let data = try digits()
    func run(_ options: RunOptions) -> ClassifierRun {
        let g = RandomGenerator(seed: 4)
        let model = Sequential(Linear(64, 32, generator: g), BatchNorm1d(32), ReLU(), Dropout(0.1, generator: g),
                               Linear(32, 10, generator: g))
        let trainer = ClassifierTrainer(model: model, optimizer: SGD(model.parameters(), learningRate: 0.05, momentum: 0.9),
                                        batchSize: 50, seed: 4)
        let run = ClassifierRun(trainer: trainer, train: data.train, test: data.test, epochs: 1, options: options)
        run.generators = [("dropout", g)]
        return run
    }
    let reference = run(RunOptions())
    let expected = try reference.run()
    let directory = temporaryDirectory("bn")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let options = RunOptions(checkpointDirectory: directory, checkpointEvery: 10, resume: true)
    let first = run(options)
    first.checkpoints?.faultInjection = { phase, step in phase == .started && step == 30 }
    #expect(throws: TrainingError.self) { try first.run() }
    let second = run(options)
    let reports = try second.run()
    #expect(second.resumedFrom?.step == 20)
    #expect(reports.map(\.testLoss) == expected.map(\.testLoss))
    #expect(second.trainer.model.stateDict().map { $0.1.scalars } == reference.trainer.model.stateDict().map { $0.1.scalars })
}
