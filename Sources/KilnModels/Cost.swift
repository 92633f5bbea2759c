/// What a training run costs at an hourly price: the time a workload's throughput needs for a
/// fixed amount of work, priced pro rata.
///
///     seconds = units / (units per second)
///     cost    = hourly price × seconds / 3600
///
/// `units` are samples (classifiers) or tokens (language models): one epoch of the workload's
/// dataset (`BenchWorkload.epochUnits`), or a million of them.
public struct TrainingCost: Sendable, Equatable {
    /// Seconds of training for the work.
    public var seconds: Double
    /// Price of those seconds, in the currency of the hourly price.
    public var cost: Double

    /// The time and price of `units` at `unitsPerSecond` and `hourlyCost` per hour.
    public init(units: Double, unitsPerSecond: Double, hourlyCost: Double) {
        precondition(unitsPerSecond > 0, "TrainingCost: throughput must be positive, got \(unitsPerSecond)")
        seconds = units / unitsPerSecond
        cost = hourlyCost * seconds / 3600
    }
}

extension BenchWorkload {
    /// Units in one epoch of the workload's real dataset: MNIST's 60,000 training images for
    /// `mlp` and `cnn`, CIFAR-10's 50,000 for `resnet20`, and, for the language models, a
    /// nominal 1,000,000 tokens (about Tiny Shakespeare's size).
    public var epochUnits: Int {
        switch name {
        case "mlp", "cnn": 60_000
        case "resnet20": 50_000
        default: 1_000_000
        }
    }
}
