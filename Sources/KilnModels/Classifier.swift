import KilnData
import KilnDistributed
import KilnNN
import KilnOptim

/// What one epoch of classifier training measured.
public struct EpochReport: Sendable, Equatable {
    /// 1-based epoch number.
    public var epoch: Int
    /// Mean training loss over the epoch's batches (dropout on).
    public var trainLoss: Float
    /// Mean loss on the test split (evaluation mode).
    public var testLoss: Float
    /// Fraction of the test split classified correctly.
    public var testAccuracy: Float
    /// Training samples per second (training steps only, evaluation excluded).
    public var samplesPerSecond: Double
    /// Seconds spent in training steps this epoch.
    public var trainSeconds: Double
    /// Seconds since training started, evaluation included.
    public var elapsed: Double
}

/// Trains a classifier on a `LabeledDataset` with mini-batches, cross-entropy loss and any
/// optimizer, reporting loss, accuracy and throughput per epoch.
public final class ClassifierTrainer {
    /// The model being trained.
    public let model: any Layer
    /// The optimizer updating `model`'s parameters.
    public let optimizer: any Optimizer
    /// Samples per training step.
    public let batchSize: Int
    /// Seeds the shuffling (epoch `e` uses `seed + e`).
    public let seed: UInt64
    /// How batches are shaped: flat rows for MLPs, `[n, c, h, w]` for convolutions.
    public let layout: BatchLayout
    /// Random transformations of the training images (on the loader thread), or nil.
    public let augmentation: Augmentation?
    /// The learning rate per step (counted from 0 over the whole run), or nil for a constant rate.
    public let schedule: (any LRSchedule)?
    /// Label smoothing ε of the training loss (0: plain cross-entropy); evaluation's loss is plain.
    public let labelSmoothing: Float
    /// Training steps taken so far (set by a resumed run).
    public internal(set) var stepCount = 0
    /// Data-parallel training over MPI ranks, or nil for one process (see Classifier+Distributed.swift).
    package var dataParallel: DataParallel?
    /// Where the model is (its device at construction): batches, loaded on the CPU, move there.
    public var device: Device

    /// A trainer for `model` with `optimizer`.
    public init(model: any Layer, optimizer: any Optimizer, batchSize: Int, seed: UInt64, layout: BatchLayout = .flat,
                augmentation: Augmentation? = nil, schedule: (any LRSchedule)? = nil, labelSmoothing: Float = 0) {
        precondition(batchSize > 0, "ClassifierTrainer: batch size must be positive, got \(batchSize)")
        precondition(labelSmoothing >= 0 && labelSmoothing < 1,
                     "ClassifierTrainer: label smoothing must be in 0..<1, got \(labelSmoothing)")
        self.labelSmoothing = labelSmoothing
        self.model = model
        self.optimizer = optimizer
        self.batchSize = batchSize
        self.seed = seed
        self.layout = layout
        self.augmentation = augmentation
        self.schedule = schedule
        self.device = model.device
    }

    /// One training step on `batch`; returns the loss before the update.
    @discardableResult
    public func step(_ batch: Batch) -> Float {
        let loss = computeGradients(batch)
        optimizer.step()
        return loss
    }

    /// The first half of ``step(_:)``: sets the scheduled learning rate, counts the step and fills
    /// the parameters' gradients, without updating them. `optimizer.step()` completes the step
    /// (a caller that finds the gradients non-finite may skip it instead).
    public func computeGradients(_ batch: Batch) -> Float {
        if let schedule { optimizer.learningRate = schedule.learningRate(at: stepCount) }
        stepCount += 1
        optimizer.zeroGrad()
        if let dataParallel { return shardGradients(batch, dataParallel) }
        let loss = crossEntropy(model(batch.inputs.to(device)), labels: batch.labels, labelSmoothing: labelSmoothing)
        loss.backward()
        return loss.item
    }

    /// The training batches of `epoch` (1-based) in their seeded order: batch `i` is the same
    /// whenever it is read, so a run can start an epoch at any batch.
    public func epochBatches(_ data: LabeledDataset, epoch: Int) -> Batches {
        data.batches(size: batchSize, shuffle: true, seed: seed &+ UInt64(epoch), layout: layout,
                     augmentation: augmentation)
    }

    /// Trains one epoch over `data` in a seeded random order, from batch `firstBatch` (0 for the
    /// whole epoch). `progress(done, total, meanLoss)` is called after each step and
    /// `onStep(batchIndex, loss)` with each step's own loss. Returns the mean loss, the samples seen
    /// and the seconds taken.
    public func trainEpoch(_ data: LabeledDataset, epoch: Int, startingAt firstBatch: Int = 0,
                           progress: ((Int, Int, Float) -> Void)? = nil,
                           onStep: ((Int, Float) -> Void)? = nil) -> (loss: Float, samples: Int, seconds: Double) {
        model.train()
        let batches = epochBatches(data, epoch: epoch)
        let loader = DataLoader(batches[firstBatch...], prefetch: 2)
        let total = batches.count
        var lossSum = 0.0, steps = 0, samples = 0
        let clock = ContinuousClock()
        let start = clock.now
        for (i, batch) in loader.enumerated() {
            let loss = step(batch)
            lossSum += Double(loss)
            steps += 1
            samples += batch.count
            onStep?(firstBatch + i, loss)
            progress?(firstBatch + steps, total, Float(lossSum / Double(steps)))
        }
        return (Float(lossSum / Double(max(steps, 1))), samples, (clock.now - start).seconds)
    }

    /// Mean loss and accuracy on `data` in evaluation mode, without recording gradients.
    /// With ``dataParallel``, each rank evaluates its shard of every batch and the sums are
    /// reduced over the ranks.
    public func evaluate(_ data: LabeledDataset) -> (loss: Float, accuracy: Float) {
        model.eval()
        defer { model.train() }
        var lossSum = 0.0, correct = 0
        noGrad {
            for global in data.batches(size: max(batchSize, 256), layout: layout) {
                let batch = dataParallel.map { global.rows($0.shard(of: global.count)) } ?? global
                if batch.count == 0 { continue }
                let logits = model(batch.inputs.to(device))
                lossSum += Double(crossEntropy(logits, labels: batch.labels).item) * Double(batch.count)
                let predicted = logits.argmax(axis: 1).scalars
                for (p, label) in zip(predicted, batch.labels) where Int32(p) == label { correct += 1 }
            }
        }
        if let dataParallel {
            let sums = dataParallel.communicator.sum([lossSum, Double(correct)])
            (lossSum, correct) = (sums[0], Int(sums[1]))
        }
        let n = max(data.count, 1)
        return (Float(lossSum / Double(n)), Float(correct) / Float(n))
    }

    /// Trains for `epochs` epochs, evaluating on `test` after each; `onEpoch` sees each report.
    public func fit(train: LabeledDataset, test: LabeledDataset, epochs: Int,
                    progress: ((Int, Int, Int, Float) -> Void)? = nil,
                    onEpoch: (EpochReport) -> Void = { _ in }) -> [EpochReport] {
        let clock = ContinuousClock()
        let start = clock.now
        var reports: [EpochReport] = []
        for epoch in 1...max(epochs, 1) {
            let (loss, samples, seconds) = trainEpoch(train, epoch: epoch) { done, total, mean in
                progress?(epoch, done, total, mean)
            }
            let (testLoss, accuracy) = evaluate(test)
            let report = EpochReport(epoch: epoch, trainLoss: loss, testLoss: testLoss, testAccuracy: accuracy,
                                     samplesPerSecond: Double(samples) / max(seconds, 1e-9),
                                     trainSeconds: seconds, elapsed: (clock.now - start).seconds)
            reports.append(report)
            onEpoch(report)
        }
        return reports
    }
}

extension Duration {
    /// The duration in seconds.
    public var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) * 1e-18
    }
}
