import KilnData
import KilnDistributed
import KilnNN
import KilnOptim

/// A language-model training run (``LanguageModelTrainer``) that can checkpoint, resume exactly,
/// log metrics and stop (or skip) on non-finite values; without options it trains exactly as
/// ``LanguageModelTrainer/fit(steps:evalEvery:evalBatches:schedule:onReport:)`` does.
///
/// A checkpoint (see ``CheckpointDirectory``) holds the model, the optimizer, the trainer's window
/// generator with every other generator the model draws from, the step (which places the
/// schedule), the sums since the last evaluation, the reports so far and the length of the metrics
/// log. Its `model.safetensors` carries `modelMetadata` (the model kind and vocabulary), so that
/// `kiln sample` reads a checkpoint as it reads a saved model.
public final class LanguageModelRun {
    /// The trainer (model, optimizer, data, window generator).
    public let trainer: LanguageModelTrainer
    /// The step to train to.
    public let steps: Int
    /// Evaluate every this many steps (and at the last).
    public let evalEvery: Int
    /// Validation batches per evaluation.
    public let evalBatches: Int
    /// The learning rate per step, or nil for a constant rate.
    public let schedule: (any LRSchedule)?
    /// Checkpointing, logging and non-finite handling.
    public let options: RunOptions
    /// What the run is; checked on resume (all entries but `steps`).
    public let identity: [(String, String)]
    /// Metadata for each checkpoint's `model.safetensors`.
    public let modelMetadata: [String: String]
    /// The checkpoint directory, when checkpointing.
    public var checkpoints: CheckpointDirectory?
    /// Called after every step.
    public var onStep: ((StepRecord) -> Void)?
    /// The generators a checkpoint saves and restores; nil (the default) for
    /// `RandomGenerator.global`, every generator the model holds and the trainer's window generator.
    public var generators: [(String, RandomGenerator)]?
    /// Steps skipped because of non-finite values.
    public private(set) var skippedSteps = 0
    /// The checkpoint the run resumed from, if it did.
    public private(set) var resumedFrom: CheckpointDirectory.Entry?

    /// A run of `trainer` to step `steps`.
    public init(trainer: LanguageModelTrainer, steps: Int, evalEvery: Int, evalBatches: Int = 20,
                schedule: (any LRSchedule)? = nil, options: RunOptions = RunOptions(),
                identity: [(String, String)] = [], modelMetadata: [String: String] = [:]) {
        self.trainer = trainer
        self.steps = steps
        self.evalEvery = max(evalEvery, 1)
        self.evalBatches = evalBatches
        self.schedule = schedule
        self.options = options
        self.identity = identity
        self.modelMetadata = modelMetadata
        self.checkpoints = options.checkpointDirectory.map { CheckpointDirectory($0, keep: options.keep) }
    }

    /// The sums since the last evaluation and what came before.
    private struct Progress {
        var lossSum = 0.0
        var lossCount = 0
        var trainSeconds = 0.0
        var elapsedBefore = 0.0
        var reports: [LanguageModelReport] = []
    }

    /// Trains to step ``steps`` (from the newest checkpoint with ``RunOptions/resume``);
    /// `onReport` sees each evaluation. Returns every report of the run, earlier processes' included.
    public func run(onReport: (LanguageModelReport) -> Void = { _ in }) throws(TrainingError) -> [LanguageModelReport] {
        let model = trainer.model
        let namedParameters = model.namedParameters()
        var state: TrainingState?
        if checkpoints != nil {
            guard let optimizer = trainer.optimizer as? any CheckpointableOptimizer else {
                throw .checkpoint(.notCheckpointable("\(type(of: trainer.optimizer))"))
            }
            if let generators {
                state = TrainingState(model: model, optimizer: optimizer, generators: generators)
            } else {
                var s = TrainingState(model: model, optimizer: optimizer)
                s.generators.append(("windows", trainer.generator))
                state = s
            }
        }
        var progress = Progress()
        var logBytes: Int?
        if options.resume, let directory = checkpoints, let latest = directory.latest(), let state {
            let restored: (Progress, Int?, Int, Int)
            do throws(CheckpointError) {
                restored = try CheckpointDirectory.load(latest.path, into: state) { step, json throws(CheckpointError) in
                    try restore(json, step: step)
                }
            } catch {
                throw .checkpoint(error)
            }
            (progress, logBytes, skippedSteps, trainer.stepCount) = restored
            resumedFrom = latest
        }
        // Data-parallel: rank 0 alone writes the log and checkpoints; every rank resumes from the
        // same directory and starts from rank 0's replica.
        let isLeader = trainer.dataParallel.map { $0.communicator.rank == 0 } ?? true
        if isLeader { checkpoints?.prune() }
        do throws(DistributedError) { try trainer.dataParallel?.synchronize(model, stepCount: trainer.stepCount) } catch {
            throw .distributed("\(error)" + (options.resume ? " (every rank must see the same --checkpoint-dir)" : ""))
        }

        var log: MetricsLog?
        if let path = options.logPath, isLeader {
            do throws(FileWriteError) {
                log = try MetricsLog(path: path, keepingBytes: logBytes)
                if let resumedFrom {
                    try log?.append(.object([.init("event", .string("resume")), .init("step", .integer(trainer.stepCount)),
                                             .init("from", .string(resumedFrom.path))]))
                } else {
                    try log?.append(.object([.init("event", .string("run"))]
                                            + identity.map { .init($0.0, .string($0.1)) }
                                            + [.init("kiln", .string(kilnVersion))]))
                }
            } catch {
                throw .log(error)
            }
        }

        let clock = ContinuousClock()
        let start = clock.now
        func wallSeconds() -> Double { progress.elapsedBefore + (clock.now - start).seconds }
        let tokensPerStep = trainer.batchSize * trainer.contextLength
        var tokensSinceLog = 0, secondsSinceLog = 0.0

        func save() throws(TrainingError) {
            guard isLeader, let directory = checkpoints, let state else { return }
            do throws(CheckpointError) {
                if let log {
                    do throws(FileWriteError) { try log.sync() } catch { throw .unwritable(error) }
                }
                try directory.save(state, step: trainer.stepCount, trainer: trainerJSON(progress, log: log, elapsed: wallSeconds()),
                                   modelMetadata: modelMetadata)
            } catch {
                throw .checkpoint(error)
            }
        }

        while trainer.stepCount < steps {
            if let schedule { trainer.optimizer.learningRate = schedule.learningRate(at: trainer.stepCount) }
            let t0 = clock.now
            let loss = trainer.computeGradients()
            let bad = loss.isFinite ? firstNonFiniteGradient(namedParameters) : nil
            let skipped = !loss.isFinite || bad != nil
            if skipped {
                guard options.skipNonFinite else {
                    throw .nonFinite(step: trainer.stepCount + 1, epoch: 0, batch: 0, loss: loss,
                                     parameter: bad ?? firstNonFiniteGradient(namedParameters))
                }
                trainer.optimizer.zeroGrad()
                skippedSteps += 1
            } else {
                trainer.optimizer.step()
                progress.lossSum += Double(loss)
                progress.lossCount += 1
            }
            trainer.stepCount += 1
            let seconds = (clock.now - t0).seconds
            progress.trainSeconds += seconds
            tokensSinceLog += tokensPerStep
            secondsSinceLog += seconds
            let step = trainer.stepCount
            if let log, skipped || step % options.logEvery == 0 {
                var fields: [JSONValue.Member] = [
                    .init("event", .string(skipped ? "skip" : "step")), .init("step", .integer(step)),
                    .init("loss", .float(loss)), .init("lr", .float(trainer.optimizer.learningRate)),
                    .init("tokens_per_second", .double(Double(tokensSinceLog) / max(secondsSinceLog, 1e-9))),
                    .init("wall_seconds", .double(wallSeconds())),
                ]
                if skipped { fields.append(.init("parameter", bad.map { .string($0) } ?? .null)) }
                if let rss = Machine.residentBytes() { fields.append(.init("rss_bytes", .integer(rss))) }
                do { try log.append(.object(fields)) } catch { throw .log(error) }
                tokensSinceLog = 0
                secondsSinceLog = 0
            }
            onStep?(StepRecord(step: step, epoch: 1, batch: step, loss: loss, skipped: skipped))
            if step % evalEvery == 0 || step == steps {
                let count = max(progress.lossCount, 1)
                let report = LanguageModelReport(
                    step: step, trainLoss: Float(progress.lossSum / Double(count)),
                    validationLoss: trainer.evaluate(.validation, batches: evalBatches),
                    tokensPerSecond: Double(count * tokensPerStep) / max(progress.trainSeconds, 1e-9),
                    trainSeconds: progress.trainSeconds, elapsed: wallSeconds())
                progress.reports.append(report)
                progress.lossSum = 0
                progress.lossCount = 0
                progress.trainSeconds = 0
                if let log {
                    var fields: [JSONValue.Member] = [
                        .init("event", .string("eval")), .init("step", .integer(step)),
                        .init("train_loss", .float(report.trainLoss)), .init("val_loss", .float(report.validationLoss)),
                        .init("bits_per_char", .float(report.validationBitsPerCharacter)),
                        .init("tokens_per_second", .double(report.tokensPerSecond)),
                        .init("wall_seconds", .double(report.elapsed)),
                    ]
                    if let rss = Machine.residentBytes() { fields.append(.init("rss_bytes", .integer(rss))) }
                    do { try log.append(.object(fields)) } catch { throw .log(error) }
                }
                onReport(report)
            }
            if checkpoints != nil, step % options.checkpointEvery == 0 || step == steps { try save() }
        }
        do { try log?.sync() } catch { throw .log(error) }
        return progress.reports
    }

    private func firstNonFiniteGradient(_ parameters: [(String, Parameter)]) -> String? {
        parameters.first { _, p in p.grad.map { !allFinite($0) } ?? false }?.0
    }

    private func trainerJSON(_ p: Progress, log: MetricsLog?, elapsed: Double) -> JSONValue {
        var members: [JSONValue.Member] = [
            .init("loss_sum", .double(p.lossSum)), .init("loss_count", .integer(p.lossCount)),
            .init("train_seconds", .double(p.trainSeconds)), .init("elapsed_seconds", .double(elapsed)),
            .init("skipped_steps", .integer(skippedSteps)),
            .init("learning_rate", .float(trainer.optimizer.learningRate)),
            .init("identity", .object(identity.map { .init($0.0, .string($0.1)) })),
            .init("reports", .array(p.reports.map { r in
                .object([.init("step", .integer(r.step)), .init("train_loss", .float(r.trainLoss)),
                         .init("validation_loss", .float(r.validationLoss)),
                         .init("tokens_per_second", .double(r.tokensPerSecond)),
                         .init("train_seconds", .double(r.trainSeconds)), .init("elapsed", .double(r.elapsed))])
            })),
        ]
        if let log { members.append(.init("log", .object([.init("path", .string(log.path)), .init("bytes", .integer(log.size))]))) }
        return .object(members)
    }

    /// Reads the trainer's part of a checkpoint, checking it fits this run; changes nothing.
    private func restore(_ json: TrainerJSON, step: Int) throws(CheckpointError) -> (Progress, Int?, Int, Int) {
        let identityJSON = try json.object("identity")
        for (key, value) in identity where key != "steps" {
            let saved = identityJSON.value[key]?.string ?? "(none)"
            guard saved == value else { throw .mismatch(file: json.file, field: key, expected: value, found: saved) }
        }
        var p = Progress()
        p.lossSum = try json.double("loss_sum")
        p.lossCount = try json.int("loss_count")
        p.trainSeconds = try json.double("train_seconds")
        p.elapsedBefore = try json.double("elapsed_seconds")
        guard let reports = try json.field("reports").array else {
            throw .invalid(file: json.file, field: "reports", problem: "expected an array")
        }
        for r in reports {
            let j = TrainerJSON(r, file: json.file)
            p.reports.append(LanguageModelReport(
                step: try j.int("step"), trainLoss: try j.float("train_loss"), validationLoss: try j.float("validation_loss"),
                tokensPerSecond: try j.double("tokens_per_second"), trainSeconds: try j.double("train_seconds"),
                elapsed: try j.double("elapsed")))
        }
        var logBytes: Int?
        if let logJSON = json.value["log"], let path = options.logPath {
            let saved = TrainerJSON(logJSON, file: json.file)
            if try saved.string("path") == path { logBytes = try saved.int("bytes") }
        }
        return (p, logBytes, try json.int("skipped_steps"), step)
    }
}
