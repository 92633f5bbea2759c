import ArgumentParser
import Foundation
import Kiln
import KilnData
import KilnDistributed
import KilnModels

/// `kiln train` options for checkpoints, resuming, metrics logs and non-finite values.
struct CheckpointOptions: ParsableArguments {
    @Option(help: "Save checkpoints (model, optimizer, random state, data position) in this directory.")
    var checkpointDir: String?

    @Option(help: "Steps between checkpoints (one is also saved at the end).")
    var checkpointEvery: Int = 500

    @Option(help: "How many checkpoints to keep (the newest).")
    var keep: Int = 3

    @Flag(help: "Continue from the newest checkpoint in --checkpoint-dir (a fresh run if there is none).")
    var resume = false

    @Option(help: "Write metrics as JSON Lines to this file (one line per logged step and per evaluation); `kiln plot` draws it.")
    var log: String?

    @Option(help: "Log every N steps.")
    var logEvery: Int = 1

    @Flag(help: "Skip (and count) steps whose loss or gradients are not finite, instead of stopping.")
    var skipNonfinite = false

    @Option(help: "Start from these weights: a .safetensors file, a checkpoint, or a checkpoint directory (its newest).")
    var initFrom: String?

    @Option(help: "Save the final weights to this .safetensors file (loads in PyTorch with load_state_dict).")
    var saveModel: String?

    func validate() throws {
        guard checkpointEvery >= 1 else { throw ValidationError("--checkpoint-every must be at least 1, got \(checkpointEvery)") }
        guard keep >= 1 else { throw ValidationError("--keep must be at least 1, got \(keep)") }
        guard logEvery >= 1 else { throw ValidationError("--log-every must be at least 1, got \(logEvery)") }
        if resume && checkpointDir == nil { throw ValidationError("--resume needs --checkpoint-dir") }
        if resume && initFrom != nil { throw ValidationError("--resume and --init-from exclude each other") }
    }

    /// Trains a classifier as `trainClassifier` does (the same losses for the same seed), as a
    /// `ClassifierRun`: with these options, and always stopping on a non-finite loss or gradient
    /// (or skipping the step with `--skip-nonfinite`).
    func trainClassifier(modelName: String, recipe: Recipe, dataset: DatasetChoice, config: TrainingConfig,
                         train: LabeledDataset, test: LabeledDataset, world: Communicator? = nil,
                         progress: @escaping (Int, Int, Int, Float) -> Void,
                         onEpoch: @escaping (EpochReport) -> Void) throws -> [EpochReport] {
        let options = RunOptions(checkpointDirectory: checkpointDir, checkpointEvery: checkpointEvery, keep: keep,
                                 resume: resume, logPath: log, logEvery: logEvery, skipNonFinite: skipNonfinite)
        let run = try makeClassifierRun(modelName: modelName, recipe: recipe, dataset: dataset, config: config,
                                        train: train, test: test, options: options, initialWeights: initFrom)
        if let world { run.trainer.dataParallel = DataParallel(communicator: world, parameters: run.trainer.model.parameters()) }
        if var directory = run.checkpoints {
            directory.faultInjection = failpoint()
            run.checkpoints = directory
            if resume {
                if let latest = directory.latest() {
                    print("resuming from \(latest.path)")
                } else {
                    print("no checkpoint in \(directory.path) yet: starting a fresh run")
                }
            }
        }
        if let initFrom { print("initial weights from \(initFrom)") }
        let started = ContinuousClock.now
        let reports = try run.run(progress: progress, onEpoch: onEpoch)
        if run.skippedSteps > 0 { print("\(run.skippedSteps) step(s) skipped: non-finite loss or gradients") }
        if let latest = run.checkpoints?.latest() { print("checkpoint \(latest.path)") }
        if let log { print("metrics log \(log)") }
        if let dataParallel = run.trainer.dataParallel {
            print(allreduceSummary(dataParallel, seconds: (ContinuousClock.now - started).seconds))
        }
        if let saveModel, world?.rank ?? 0 == 0 {
            try run.trainer.model.saveSafeTensors(to: saveModel, metadata: ["format": "pt", "model": modelName])
            print("weights saved to \(saveModel)")
        }
        return reports
    }
}

extension CheckpointOptions {
    /// Trains a language model as `LanguageModelTrainer.fit` does, as a `LanguageModelRun` with
    /// these options; checkpoints carry the model's kind and vocabulary, so `kiln sample --model`
    /// reads them. `--save-model` writes the model with its kind and vocabulary, for `kiln sample`.
    func trainLanguageModel(_ trainer: LanguageModelTrainer, kind: LanguageModelKind, vocabulary: CharVocabulary,
                            seed: UInt64, steps: Int, evalEvery: Int, evalBatches: Int,
                            onReport: (LanguageModelReport) -> Void) throws -> [LanguageModelReport] {
        if let initFrom {
            try loadWeights(trainer.model, from: initFrom)
            print("initial weights from \(initFrom)")
        }
        let options = RunOptions(checkpointDirectory: checkpointDir, checkpointEvery: checkpointEvery, keep: keep,
                                 resume: resume, logPath: log, logEvery: logEvery, skipNonFinite: skipNonfinite)
        let symbols = vocabulary.symbols.map { String($0.value) }.joined(separator: ",")
        let identity: [(String, String)] = [
            ("model", kind.rawValue), ("vocabulary", symbols), ("train_symbols", String(trainer.data.train.count)),
            ("batch_size", String(trainer.batchSize)), ("context_length", String(trainer.contextLength)),
            ("learning_rate", "\(trainer.optimizer.learningRate)"), ("seed", String(seed)), ("steps", String(steps)),
        ]
        let run = LanguageModelRun(trainer: trainer, steps: steps, evalEvery: evalEvery, evalBatches: evalBatches,
                                   options: options, identity: identity,
                                   modelMetadata: ["kiln.model": kind.rawValue, "kiln.vocabulary": symbols])
        if var directory = run.checkpoints {
            directory.faultInjection = failpoint()
            run.checkpoints = directory
            if resume {
                print(directory.latest().map { "resuming from \($0.path)" } ?? "no checkpoint in \(directory.path) yet: starting a fresh run")
            }
        }
        let started = ContinuousClock.now
        let reports = try run.run(onReport: onReport)
        if run.skippedSteps > 0 { print("\(run.skippedSteps) step(s) skipped: non-finite loss or gradients") }
        if let latest = run.checkpoints?.latest() { print("checkpoint \(latest.path) (kiln sample --model \(latest.path))") }
        if let log { print("metrics log \(log)") }
        if let dataParallel = trainer.dataParallel {
            print(allreduceSummary(dataParallel, seconds: (ContinuousClock.now - started).seconds))
        }
        if let saveModel, trainer.dataParallel?.communicator.rank ?? 0 == 0 {
            try LanguageModelFile.save(trainer.model, kind: kind, vocabulary: vocabulary, to: saveModel)
            print("weights saved to \(saveModel)")
        }
        return reports
    }
}

/// For tests of crash safety: `KILN_CHECKPOINT_FAILPOINT=PHASE:STEP` (e.g. `filesWritten:40`) kills
/// the process with SIGKILL at that phase of the checkpoint save of that step.
private func failpoint() -> (@Sendable (CheckpointWritePhase, Int) -> Bool)? {
    guard let spec = ProcessInfo.processInfo.environment["KILN_CHECKPOINT_FAILPOINT"] else { return nil }
    let parts = spec.split(separator: ":")
    guard parts.count == 2, let phase = CheckpointWritePhase(rawValue: String(parts[0])), let step = Int(parts[1]) else {
        return nil
    }
    return { p, s in
        if p == phase && s == step { kill(getpid(), SIGKILL) }
        return false
    }
}
