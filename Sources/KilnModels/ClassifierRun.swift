import KilnData
import KilnDistributed
import KilnNN
import KilnOptim

/// How a ``ClassifierRun`` checkpoints, logs and treats non-finite values.
public struct RunOptions: Sendable {
    /// Where checkpoints go, or nil for none.
    public var checkpointDirectory: String?
    /// Save a checkpoint every this many steps (and always at the end).
    public var checkpointEvery: Int
    /// How many checkpoints to keep (the newest).
    public var keep: Int
    /// Continue from the newest checkpoint in ``checkpointDirectory`` if there is one.
    public var resume: Bool
    /// The JSON Lines metrics log, or nil for none.
    public var logPath: String?
    /// Log every this many steps (evaluations are always logged).
    public var logEvery: Int
    /// Skip (and count) a step whose loss or gradients are not finite, instead of stopping.
    public var skipNonFinite: Bool

    /// Options; the defaults checkpoint nothing and log nothing.
    public init(checkpointDirectory: String? = nil, checkpointEvery: Int = 500, keep: Int = 3, resume: Bool = false,
                logPath: String? = nil, logEvery: Int = 1, skipNonFinite: Bool = false) {
        precondition(checkpointEvery >= 1 && keep >= 1 && logEvery >= 1,
                     "RunOptions: checkpointEvery, keep and logEvery must be at least 1")
        self.checkpointDirectory = checkpointDirectory
        self.checkpointEvery = checkpointEvery
        self.keep = keep
        self.resume = resume
        self.logPath = logPath
        self.logEvery = logEvery
        self.skipNonFinite = skipNonFinite
    }
}

/// Why a training run stopped early.
public enum TrainingError: Error, Equatable, CustomStringConvertible {
    /// Step `step` (epoch, 1-based batch; both 0 for runs without epochs) had a non-finite loss or
    /// gradient; `parameter` is the first parameter (in `namedParameters()` order) whose gradient
    /// was not finite.
    case nonFinite(step: Int, epoch: Int, batch: Int, loss: Float, parameter: String?)
    /// A checkpoint could not be saved or loaded.
    case checkpoint(CheckpointError)
    /// The metrics log could not be written.
    case log(FileWriteError)
    /// The ranks of a data-parallel run disagree (the message says about what).
    case distributed(String)

    /// A message naming the step and the parameter, or the file.
    public var description: String {
        switch self {
        case .nonFinite(let step, let epoch, let batch, let loss, let parameter):
            "step \(step)" + (epoch > 0 ? " (epoch \(epoch), batch \(batch))" : "") + ": "
                + (parameter.map { "gradient of '\($0)' is not finite" + (loss.isFinite ? "" : " (loss \(loss))") }
                    ?? "loss is \(loss)")
                + "; stopping (pass --skip-nonfinite to skip such steps)"
        case .checkpoint(let e): "\(e)"
        case .log(let e): "metrics log: \(e)"
        case .distributed(let message): message
        }
    }
}

/// One training step as a ``ClassifierRun`` reports it.
public struct StepRecord: Sendable, Equatable {
    /// The step number, from 1 over the whole run.
    public var step: Int
    /// The epoch, from 1.
    public var epoch: Int
    /// The batch within the epoch, from 1.
    public var batch: Int
    /// The loss before the update.
    public var loss: Float
    /// Whether the update was skipped (non-finite loss or gradients).
    public var skipped: Bool
}

/// A classifier training run that can checkpoint, resume exactly, log metrics and stop (or skip)
/// on non-finite values. Driven by a ``ClassifierTrainer``; without options it trains exactly as
/// ``ClassifierTrainer/fit(train:test:epochs:progress:onEpoch:)`` does.
///
/// A checkpoint is taken after a step and holds the model, the optimizer, every random generator
/// the model draws from, the step count (which places the learning-rate schedule), the position in
/// the data (epoch, next batch, the epoch's order checksum), the epoch's running sums and the
/// length of the metrics log. Resuming restores all of it, so a run stopped at any moment (even
/// `kill -9` in the middle of writing a checkpoint) and resumed computes the same per-step losses,
/// bit for bit on the CPU, as a run that never stopped.
///
/// Data-parallel (the trainer's `dataParallel` set): every rank runs the same loop on its shard of
/// each batch; rank 0's replica is broadcast at the start (after resuming, which every rank does
/// from the same checkpoint directory), batch-norm running statistics are averaged over the ranks
/// before each evaluation and checkpoint, and only rank 0 writes checkpoints and the log.
public final class ClassifierRun {
    /// The trainer (model, optimizer, batching, schedule).
    public let trainer: ClassifierTrainer
    /// The training set.
    public let train: LabeledDataset
    /// The evaluation set.
    public let test: LabeledDataset
    /// The last epoch to train.
    public let epochs: Int
    /// Checkpointing, logging and non-finite handling.
    public let options: RunOptions
    /// What the run is (model, dataset, optimizer, …): written at the head of the log and checked
    /// on resume, where every entry but `epochs` must match the checkpoint's.
    public let identity: [(String, String)]
    /// The checkpoint directory, when checkpointing (tests set its fault injection).
    public var checkpoints: CheckpointDirectory?
    /// Called after every step.
    public var onStep: ((StepRecord) -> Void)?
    /// The generators a checkpoint saves and restores; nil (the default) for
    /// `RandomGenerator.global` and every generator the model holds.
    public var generators: [(String, RandomGenerator)]?
    /// Steps skipped because of non-finite values (with ``RunOptions/skipNonFinite``).
    public private(set) var skippedSteps = 0
    /// The checkpoint the run resumed from, if it did.
    public private(set) var resumedFrom: CheckpointDirectory.Entry?

    /// A run of `trainer` for `epochs` epochs.
    public init(trainer: ClassifierTrainer, train: LabeledDataset, test: LabeledDataset, epochs: Int,
                options: RunOptions = RunOptions(), identity: [(String, String)] = []) {
        self.trainer = trainer
        self.train = train
        self.test = test
        self.epochs = max(epochs, 1)
        self.options = options
        self.identity = identity
        self.checkpoints = options.checkpointDirectory.map { CheckpointDirectory($0, keep: options.keep) }
    }

    /// Where the run is: the state of the current epoch besides the model and optimizer.
    private struct Position {
        var epoch = 1
        /// The next batch of `epoch` to train (0-based); the batch count when only its evaluation is left.
        var batch = 0
        var lossSum = 0.0
        var steps = 0
        var samples = 0
        var trainSeconds = 0.0
        /// Wall-clock seconds of the run before this process started.
        var elapsedBefore = 0.0
        var reports: [EpochReport] = []
    }

    /// Trains to the last epoch (from the newest checkpoint with ``RunOptions/resume``),
    /// evaluating after each epoch. `progress(epoch, done, total, meanLoss)` follows the steps and
    /// `onEpoch` sees each report. Returns the reports of every epoch of the run, earlier
    /// processes' included.
    public func run(progress: ((Int, Int, Int, Float) -> Void)? = nil,
                    onEpoch: (EpochReport) -> Void = { _ in }) throws(TrainingError) -> [EpochReport] {
        let model = trainer.model
        let namedParameters = model.namedParameters()
        var state: TrainingState?
        if checkpoints != nil {
            guard let optimizer = trainer.optimizer as? any CheckpointableOptimizer else {
                throw .checkpoint(.notCheckpointable("\(type(of: trainer.optimizer))"))
            }
            state = generators.map { TrainingState(model: model, optimizer: optimizer, generators: $0) }
                ?? TrainingState(model: model, optimizer: optimizer)
        }
        var position = Position()
        var logBytes: Int?
        if options.resume, let directory = checkpoints, let latest = directory.latest(), let state {
            let restored: Restored
            do throws(CheckpointError) {
                restored = try CheckpointDirectory.load(latest.path, into: state) { step, json throws(CheckpointError) in
                    try restore(json, step: step)
                }
            } catch {
                throw .checkpoint(error)
            }
            position = restored.position
            logBytes = restored.logBytes
            skippedSteps = restored.skippedSteps
            trainer.stepCount = restored.step
            resumedFrom = latest
        }
        let isLeader = trainer.dataParallel.map { $0.communicator.rank == 0 } ?? true
        if isLeader { checkpoints?.prune() }  // partial directories of a crashed run
        do throws(DistributedError) { try trainer.synchronizeReplicas() } catch {
            throw .distributed("\(error)" + (options.resume ? " (every rank must see the same --checkpoint-dir)" : ""))
        }

        // The metrics log continues from the checkpoint's length, or starts afresh.
        var log: MetricsLog?
        if let path = options.logPath, isLeader {
            do throws(FileWriteError) {
                log = try MetricsLog(path: path, keepingBytes: logBytes)
                if let resumedFrom {
                    try log?.append(.object([.init("event", .string("resume")), .init("step", .integer(trainer.stepCount)),
                                             .init("from", .string(resumedFrom.path))]))
                } else {
                    try log?.append(.object([.init("event", .string("run"))]
                                            + identity.filter { $0.0 != "epochs" }.map { .init($0.0, .string($0.1)) }
                                            + [.init("epochs", .integer(epochs)), .init("kiln", .string(kilnVersion))]))
                }
            } catch {
                throw .log(error)
            }
        }

        let clock = ContinuousClock()
        let start = clock.now
        func wallSeconds() -> Double { position.elapsedBefore + (clock.now - start).seconds }
        var samplesSinceLog = 0, secondsSinceLog = 0.0

        func save(nextBatch: Int, epoch: Int, batches: Batches?) throws(TrainingError) {
            guard let directory = checkpoints, let state else { return }
            trainer.averageBuffers()
            guard isLeader else { return }
            do throws(CheckpointError) {
                if let log {
                    do throws(FileWriteError) { try log.sync() } catch { throw .unwritable(error) }
                }
                var p = position
                p.epoch = epoch
                p.batch = nextBatch
                try directory.save(state, step: trainer.stepCount,
                                   trainer: trainerJSON(p, batches: batches, log: log, elapsed: wallSeconds()))
            } catch {
                throw .checkpoint(error)
            }
        }

        if position.epoch <= epochs {
            for epoch in position.epoch...epochs {
                model.train()
                let batches = trainer.epochBatches(train, epoch: epoch)
                let first = epoch == position.epoch ? position.batch : 0
                if epoch != position.epoch {
                    position = Position(epoch: epoch, elapsedBefore: position.elapsedBefore, reports: position.reports)
                }
                for (offset, batch) in DataLoader(batches[first...], prefetch: 2).enumerated() {
                    let index = first + offset
                    let t0 = clock.now
                    let loss = trainer.computeGradients(batch)
                    var skipped = false
                    let bad = loss.isFinite ? firstNonFiniteGradient(namedParameters) : nil
                    if !loss.isFinite || bad != nil {
                        guard options.skipNonFinite else {
                            throw .nonFinite(step: trainer.stepCount, epoch: epoch, batch: index + 1, loss: loss,
                                             parameter: bad ?? firstNonFiniteGradient(namedParameters))
                        }
                        trainer.optimizer.zeroGrad()
                        skipped = true
                        skippedSteps += 1
                    } else {
                        trainer.optimizer.step()
                        position.lossSum += Double(loss)
                        position.steps += 1
                    }
                    let seconds = (clock.now - t0).seconds
                    position.samples += batch.count
                    position.trainSeconds += seconds
                    samplesSinceLog += batch.count
                    secondsSinceLog += seconds
                    let step = trainer.stepCount
                    if let log, skipped || step % options.logEvery == 0 {
                        var fields: [JSONValue.Member] = [
                            .init("event", .string(skipped ? "skip" : "step")), .init("step", .integer(step)),
                            .init("epoch", .integer(epoch)), .init("batch", .integer(index + 1)),
                            .init("loss", .float(loss)), .init("lr", .float(trainer.optimizer.learningRate)),
                            .init("samples_per_second", .double(Double(samplesSinceLog) / max(secondsSinceLog, 1e-9))),
                            .init("wall_seconds", .double(wallSeconds())),
                        ]
                        if skipped { fields.append(.init("parameter", bad.map { .string($0) } ?? .null)) }
                        if let rss = Machine.residentBytes() { fields.append(.init("rss_bytes", .integer(rss))) }
                        do { try log.append(.object(fields)) } catch { throw .log(error) }
                        samplesSinceLog = 0
                        secondsSinceLog = 0
                    }
                    onStep?(StepRecord(step: step, epoch: epoch, batch: index + 1, loss: loss, skipped: skipped))
                    progress?(epoch, index + 1, batches.count, Float(position.lossSum / Double(max(position.steps, 1))))
                    if checkpoints != nil, step % options.checkpointEvery == 0 {
                        try save(nextBatch: index + 1, epoch: epoch, batches: batches)
                    }
                }
                trainer.averageBuffers()
                let (testLoss, accuracy) = trainer.evaluate(test)
                let report = EpochReport(
                    epoch: epoch, trainLoss: Float(position.lossSum / Double(max(position.steps, 1))),
                    testLoss: testLoss, testAccuracy: accuracy,
                    samplesPerSecond: Double(position.samples) / max(position.trainSeconds, 1e-9),
                    trainSeconds: position.trainSeconds, elapsed: wallSeconds())
                position.reports.append(report)
                if let log {
                    var fields: [JSONValue.Member] = [
                        .init("event", .string("eval")), .init("step", .integer(trainer.stepCount)),
                        .init("epoch", .integer(epoch)), .init("train_loss", .float(report.trainLoss)),
                        .init("val_loss", .float(testLoss)), .init("accuracy", .float(accuracy)),
                        .init("samples_per_second", .double(report.samplesPerSecond)),
                        .init("wall_seconds", .double(report.elapsed)),
                    ]
                    if let rss = Machine.residentBytes() { fields.append(.init("rss_bytes", .integer(rss))) }
                    do { try log.append(.object(fields)) } catch { throw .log(error) }
                }
                onEpoch(report)
            }
        }
        // The final state, marked as past the last epoch (so that a longer run can continue it),
        // replacing a checkpoint of the same step taken before the last evaluation.
        if checkpoints != nil {
            position = Position(epoch: epochs + 1, elapsedBefore: position.elapsedBefore, reports: position.reports)
            try save(nextBatch: 0, epoch: epochs + 1, batches: nil)
        }
        do { try log?.sync() } catch { throw .log(error) }
        return position.reports
    }

    /// The first parameter, in `namedParameters()` order, whose gradient has a NaN or infinity.
    private func firstNonFiniteGradient(_ parameters: [(String, Parameter)]) -> String? {
        parameters.first { _, p in p.grad.map { !allFinite($0) } ?? false }?.0
    }

    /// The trainer's part of a checkpoint: position, running sums, reports, log length, identity.
    private func trainerJSON(_ p: Position, batches: Batches?, log: MetricsLog?, elapsed: Double) -> JSONValue {
        var members: [JSONValue.Member] = [
            .init("epoch", .integer(p.epoch)), .init("batch", .integer(p.batch)),
            .init("batches_per_epoch", .integer(batches?.count ?? 0)),
            .init("order_seed", .string(String(trainer.seed &+ UInt64(p.epoch)))),
            .init("order_checksum", .string(batches.map { orderChecksum($0.order) } ?? "")),
            .init("epoch_loss_sum", .double(p.lossSum)), .init("epoch_steps", .integer(p.steps)),
            .init("epoch_samples", .integer(p.samples)), .init("epoch_train_seconds", .double(p.trainSeconds)),
            .init("elapsed_seconds", .double(elapsed)), .init("skipped_steps", .integer(skippedSteps)),
            .init("learning_rate", .float(trainer.optimizer.learningRate)),
            .init("identity", .object(identity.map { .init($0.0, .string($0.1)) })),
            .init("reports", .array(p.reports.map(reportJSON))),
        ]
        if let log { members.append(.init("log", .object([.init("path", .string(log.path)), .init("bytes", .integer(log.size))]))) }
        return .object(members)
    }

    /// What a checkpoint's trainer part restores.
    private struct Restored {
        var position: Position
        var logBytes: Int?
        var skippedSteps: Int
        var step: Int
    }

    /// Reads the trainer's part of a checkpoint, checking it fits this run; changes nothing.
    private func restore(_ json: TrainerJSON, step: Int) throws(CheckpointError) -> Restored {
        let identityJSON = try json.object("identity")
        for (key, value) in identity where key != "epochs" {
            let saved = identityJSON.value[key]?.string ?? "(none)"
            guard saved == value else {
                throw .mismatch(file: json.file, field: key, expected: value, found: saved)
            }
        }
        var p = Position()
        p.epoch = try json.int("epoch")
        p.batch = try json.int("batch")
        guard p.epoch >= 1 else { throw .invalid(file: json.file, field: "epoch", problem: "expected at least 1") }
        if p.epoch <= epochs {
            let batches = trainer.epochBatches(train, epoch: p.epoch)
            guard p.batch <= batches.count else {
                throw .invalid(file: json.file, field: "batch", problem: "\(p.batch) is past the \(batches.count) batches of an epoch")
            }
            let checksum = try json.string("order_checksum")
            guard p.batch == 0 || checksum == orderChecksum(batches.order) else {
                throw .mismatch(file: json.file, field: "data order (dataset or seed)", expected: orderChecksum(batches.order),
                                found: checksum)
            }
        }
        p.lossSum = try json.double("epoch_loss_sum")
        p.steps = try json.int("epoch_steps")
        p.samples = try json.int("epoch_samples")
        p.trainSeconds = try json.double("epoch_train_seconds")
        p.elapsedBefore = try json.double("elapsed_seconds")
        guard let reports = try json.field("reports").array else {
            throw .invalid(file: json.file, field: "reports", problem: "expected an array")
        }
        for r in reports { p.reports.append(try report(TrainerJSON(r, file: json.file))) }
        var logBytes: Int?
        if let logJSON = json.value["log"], let path = options.logPath {
            let saved = TrainerJSON(logJSON, file: json.file)
            if try saved.string("path") == path { logBytes = try saved.int("bytes") }
        }
        return Restored(position: p, logBytes: logBytes, skippedSteps: try json.int("skipped_steps"), step: step)
    }

    private func reportJSON(_ r: EpochReport) -> JSONValue {
        .object([
            .init("epoch", .integer(r.epoch)), .init("train_loss", .float(r.trainLoss)),
            .init("test_loss", .float(r.testLoss)), .init("test_accuracy", .float(r.testAccuracy)),
            .init("samples_per_second", .double(r.samplesPerSecond)), .init("train_seconds", .double(r.trainSeconds)),
            .init("elapsed", .double(r.elapsed)),
        ])
    }

    private func report(_ j: TrainerJSON) throws(CheckpointError) -> EpochReport {
        EpochReport(epoch: try j.int("epoch"), trainLoss: try j.float("train_loss"), testLoss: try j.float("test_loss"),
                    testAccuracy: try j.float("test_accuracy"), samplesPerSecond: try j.double("samples_per_second"),
                    trainSeconds: try j.double("train_seconds"), elapsed: try j.double("elapsed"))
    }
}

/// True when no element of `tensor` is NaN or infinite.
func allFinite(_ tensor: Tensor) -> Bool {
    tensor.withUnsafeBufferPointer { values in
        values.withMemoryRebound(to: UInt32.self) { bits in
            // The largest exponent field: all ones only for infinities and NaNs.
            var largest: UInt32 = 0
            for b in bits { largest = max(largest, b & 0x7F80_0000) }
            return largest != 0x7F80_0000
        }
    }
}

/// A 64-bit FNV-1a hash of a sample order, in hexadecimal: checks on resume that the data and the
/// shuffling are those of the checkpoint.
func orderChecksum(_ order: [Int]) -> String {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for i in order {
        var v = UInt64(truncatingIfNeeded: i)
        for _ in 0..<8 {
            hash = (hash ^ (v & 0xFF)) &* 0x0000_0100_0000_01B3
            v >>= 8
        }
    }
    return String(hash, radix: 16)
}

/// ``trainClassifier(recipe:dataset:config:train:test:progress:onEpoch:)`` as a ``ClassifierRun``:
/// with checkpoints, resuming, a metrics log and non-finite checks as `options` say. The
/// identity checked on resume is the model's name, the dataset and `config` (all but `epochs`).
/// `initialWeights` (a `.safetensors` file or a checkpoint directory) replaces the initial
/// weights of a fresh run. Returns the run after its last epoch.
public func makeClassifierRun(modelName: String, recipe: Recipe, dataset: DatasetChoice, config: TrainingConfig,
                              train: LabeledDataset, test: LabeledDataset, options: RunOptions,
                              initialWeights: String? = nil) throws(CheckpointError) -> ClassifierRun {
    let trainer = makeClassifierTrainer(recipe: recipe, dataset: dataset, config: config, trainCount: train.count)
    if let initialWeights { try loadWeights(trainer.model, from: initialWeights) }
    let identity: [(String, String)] = [
        ("model", modelName), ("dataset", dataset.rawValue), ("train_samples", String(train.count)),
        ("batch_size", String(config.batchSize)), ("learning_rate", "\(config.learningRate)"),
        ("optimizer", config.optimizer.rawValue), ("schedule", config.schedule.rawValue), ("seed", String(config.seed)),
        ("augmentation", trainer.augmentation?.description ?? "none"),
        ("label_smoothing", "\(config.labelSmoothing)"), ("epochs", String(config.epochs)),
    ]
    return ClassifierRun(trainer: trainer, train: train, test: test, epochs: config.epochs, options: options,
                         identity: identity)
}
