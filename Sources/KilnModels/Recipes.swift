import KilnData
import KilnNN
import KilnOptim

/// Kiln's version.
public let kilnVersion = "0.1.0"

/// The example models `kiln train` knows.
public enum TrainableModel: String, CaseIterable, Sendable {
    /// The `mlp` workload on MNIST.
    case mnistMLP = "mnist-mlp"
    /// The `mlp` workload on Fashion-MNIST.
    case fashionMLP = "fashion-mlp"

    /// The model's reference training configuration.
    public var recipe: Recipe {
        switch self {
        case .mnistMLP: Recipe(dataset: .mnist, summary: "784-512-512-10 MLP, ReLU, dropout 0.2",
                               batchSize: 128, learningRate: 1e-3, optimizer: .adam, layout: .flat) { makeMLP(generator: $0) }
        case .fashionMLP: Recipe(dataset: .fashion, summary: "784-512-512-10 MLP, ReLU, dropout 0.2",
                                 batchSize: 128, learningRate: 1e-3, optimizer: .adam, layout: .flat) { makeMLP(generator: $0) }
        }
    }
}

/// How an example model is built and trained by default.
public struct Recipe: Sendable {
    /// The dataset it trains on.
    public let dataset: MNIST.Variant
    /// A one-line description of the architecture.
    public let summary: String
    /// Reference batch size.
    public let batchSize: Int
    /// Reference learning rate.
    public let learningRate: Float
    /// Reference optimizer.
    public let optimizer: OptimizerKind
    /// How batches are shaped for the model.
    public let layout: BatchLayout
    /// Builds the model, drawing initial weights from the generator.
    public let build: @Sendable (RandomGenerator) -> any Layer
}

/// The optimizers a trainer can be configured with by name.
public enum OptimizerKind: String, Sendable, CaseIterable {
    case adam, sgd, rmsprop

    /// An optimizer of this kind over `parameters` with PyTorch's defaults besides the rate.
    public func make(_ parameters: [Parameter], learningRate: Float) -> any Optimizer {
        switch self {
        case .adam: Adam(parameters, learningRate: learningRate)
        case .sgd: SGD(parameters, learningRate: learningRate, momentum: 0.9)
        case .rmsprop: RMSprop(parameters, learningRate: learningRate)
        }
    }
}

/// The settings of one training run.
public struct TrainingConfig: Sendable {
    /// Passes over the training set.
    public var epochs: Int
    /// Samples per step.
    public var batchSize: Int
    /// Learning rate.
    public var learningRate: Float
    /// The optimizer.
    public var optimizer: OptimizerKind
    /// Seeds initialisation, dropout and shuffling.
    public var seed: UInt64

    /// A configuration.
    public init(epochs: Int, batchSize: Int, learningRate: Float, optimizer: OptimizerKind, seed: UInt64) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.optimizer = optimizer
        self.seed = seed
    }
}

/// Trains `recipe`'s model on `data` as `config` says. The same seed gives the same losses.
public func trainClassifier(recipe: Recipe, config: TrainingConfig, data: MNIST,
                            progress: ((Int, Int, Int, Float) -> Void)? = nil,
                            onEpoch: (EpochReport) -> Void = { _ in }) -> [EpochReport] {
    // One seeded stream for initial weights and dropout masks; shuffling is seeded per epoch.
    RandomGenerator.global.reseed(config.seed)
    let model = recipe.build(RandomGenerator.global)
    let optimizer = config.optimizer.make(model.parameters(), learningRate: config.learningRate)
    let trainer = ClassifierTrainer(model: model, optimizer: optimizer, batchSize: config.batchSize,
                                    seed: config.seed, layout: recipe.layout)
    return trainer.fit(train: data.train, test: data.test, epochs: config.epochs, progress: progress, onEpoch: onEpoch)
}

/// The JSON summary `kiln train --report` writes.
public func trainingReport(model: String, config: TrainingConfig, reports: [EpochReport]) -> JSONObject {
    var o = JSONObject()
    let last = reports.last
    o.add("model", model)
    o.add("epochs", config.epochs)
    o.add("batch_size", config.batchSize)
    o.add("learning_rate", config.learningRate)
    o.add("optimizer", config.optimizer.rawValue)
    o.add("seed", Int(config.seed))
    o.add("threads", threadCount())
    o.add("train_loss", last?.trainLoss ?? .nan)
    o.add("test_loss", last?.testLoss ?? .nan)
    o.add("test_accuracy", last?.testAccuracy ?? .nan)
    let trainSeconds = reports.reduce(0) { $0 + $1.trainSeconds }
    let samples = reports.reduce(0.0) { $0 + $1.samplesPerSecond * $1.trainSeconds }
    o.add("samples_per_second", samples / max(trainSeconds, 1e-9))
    o.add("seconds", last?.elapsed ?? 0)
    o.add("per_epoch", reports.map { r in
        var e = JSONObject()
        e.add("epoch", r.epoch)
        e.add("train_loss", r.trainLoss)
        e.add("test_loss", r.testLoss)
        e.add("test_accuracy", r.testAccuracy)
        e.add("samples_per_second", r.samplesPerSecond)
        e.add("seconds", r.elapsed)
        return e
    })
    return o
}
