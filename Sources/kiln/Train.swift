import ArgumentParser
import Kiln
import KilnModels
import Foundation
import KilnData
import KilnDistributed

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train an example model and report loss, accuracy and throughput.",
        discussion: """
            Classifiers (per epoch: train/test loss, test accuracy, samples/s): \(TrainableModel.allCases.map(\.rawValue).joined(separator: ", ")).
            Character-level language models (every --eval-every steps: train/validation loss, bits per character, tokens/s; a generated sample at the end): \(LanguageModelKind.allCases.map(\.rawValue).joined(separator: ", ")).
            """)

    @Argument(help: "The model to train.")
    var modelName: ModelName

    @OptionGroup(title: "Language models") var language: LanguageModelOptions

    @Option(help: "Dataset for resnet20: cifar10 (default; put the binary archive's files in --data-dir) or fashion-mnist (1×28×28: the stem takes 1 channel).")
    var dataset: DatasetChoice?

    @Option(help: "Passes over the training set.")
    var epochs: Int = 10

    @Option(help: "Samples per training step (default: the model's reference batch).")
    var batchSize: Int?

    @Option(help: "Learning rate (default: the model's reference rate).")
    var lr: Float?

    @Option(help: "Optimizer: adam, sgd, rmsprop or adadelta (default: the model's reference optimizer).")
    var optimizer: OptimizerKind?

    @Option(help: "Learning-rate schedule: constant, step (×0.7 per epoch), cosine (to 0 over the run) or onecycle (10% linear warm-up, then cosine); default: the model's reference schedule.")
    var schedule: ScheduleKind?

    @Option(help: "Label smoothing ε of the training loss, 0 ≤ ε < 1 (default: the model's reference, 0.1 for mnist-cnn, else 0).")
    var labelSmoothing: Float?

    @Flag(help: "Train on the images as they are, without the model's reference augmentation (mnist-cnn: shifts of up to 2 pixels; resnet20 on cifar10: crops and flips).")
    var noAugment = false

    @Option(help: "Seed for initialisation, dropout and shuffling.")
    var seed: UInt64 = 1

    @Option(help: "Directory with the datasets (as laid out by Scripts/fetch-data.sh).")
    var dataDir: String = ProcessInfo.processInfo.environment["KILN_DATA_DIR"] ?? "data"

    @Option(help: "Write a JSON summary of the run to this file.")
    var report: String?

    @Option(help: ArgumentHelp("Price of this machine per hour (e.g. 0.90): prints the cost of each epoch (classifiers) or of a million tokens (language models) at the measured throughput.",
                               valueName: "USD"))
    var hourlyCost: Double?

    @Option(help: "Device to train on: cpu, cuda or cuda:N (fails with what is missing when CUDA is not usable here).")
    var device: String = "cpu"

    @OptionGroup var compute: ComputeOptions

    @OptionGroup(title: "Checkpoints and logs") var checkpointing: CheckpointOptions

    @OptionGroup(title: "Distributed") var parallel: DistributedOptions

    func validate() throws {
        if try parseDevice(device) != .cpu && parallel.distributed {
            throw ValidationError("--device \(device) does not combine with --distributed (CPU only)")
        }
        if let c = hourlyCost, !(c >= 0 && c.isFinite) {
            throw ValidationError("--hourly-cost must be a non-negative number of dollars per hour, got \(c)")
        }
        guard case .classifier(let model) = modelName else {
            if labelSmoothing != nil || noAugment {
                throw ValidationError("--label-smoothing and --no-augment apply to the classifiers, not to the language models")
            }
            return try language.validate()
        }
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        if let b = batchSize, b < 1 { throw ValidationError("--batch-size must be at least 1, got \(b)") }
        if let lr, !(lr > 0 && lr.isFinite) { throw ValidationError("--lr must be a positive number, got \(lr)") }
        if let e = labelSmoothing, !(e >= 0 && e < 1) {
            throw ValidationError("--label-smoothing must be at least 0 and below 1, got \(e)")
        }
        if let dataset, dataset != model.recipe.dataset, model != .resnet20 {
            throw ValidationError("--dataset \(dataset.rawValue) doesn't fit \(model.rawValue); only resnet20 takes --dataset (cifar10 or fashion-mnist)")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dataDir, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("data directory '\(dataDir)' does not exist; fetch the datasets with Scripts/fetch-data.sh or pass --data-dir")
        }
    }

    func run() throws {
        try prepare(parseDevice(device))
        let world = try parallel.join()
        try parallel.run(world) { try train(world) }
    }

    private func train(_ world: Communicator?) throws {
        setThreadCount(parallel.threads(compute.threads, world))
        let model: TrainableModel
        switch modelName {
        case .classifier(let m): model = m
        case .language(let kind):
            return try trainLanguageModel(kind, options: language, batchSize: batchSize, lr: lr, seed: seed,
                                          dataDir: dataDir, report: report, checkpointing: checkpointing,
                                          hourlyCost: hourlyCost, device: parseDevice(device), world: world)
        }
        let recipe = model.recipe
        let config = TrainingConfig(
            epochs: epochs, batchSize: batchSize ?? recipe.batchSize, learningRate: lr ?? recipe.learningRate,
            optimizer: optimizer ?? recipe.optimizer, seed: seed, schedule: schedule ?? recipe.schedule,
            device: try parseDevice(device), augment: !noAugment,
            labelSmoothing: labelSmoothing ?? recipe.labelSmoothing)
        let datasetChoice = dataset ?? recipe.dataset
        let augmentation = recipe.augmentation(on: datasetChoice, config)
        // A dataset error names the file and how to get it; the CLI prints it and exits with 1.
        let data = try datasetChoice.load(directory: URL(fileURLWithPath: dataDir))
        print("\(model.rawValue): \(recipe.summary); \(datasetChoice.rawValue), \(data.train.count) train / \(data.test.count) test samples")
        print("optimizer \(config.optimizer.rawValue) lr \(config.learningRate) (\(config.schedule.rawValue)), batch \(config.batchSize), "
              + (config.labelSmoothing > 0 ? "label smoothing \(config.labelSmoothing), " : "")
              + "seed \(seed), threads \(threadCount()); augmentation: \(augmentation?.description ?? "none")")
        if let world {
            print(describeJob(world, threads: threadCount()) + "; each takes its rows of every global batch of \(config.batchSize)")
        }
        let progress = ProgressLine(enabled: isatty(STDOUT_FILENO) != 0)
        let reports = try checkpointing.trainClassifier(modelName: model.rawValue, recipe: recipe, dataset: datasetChoice, config: config,
                                      train: data.train, test: data.test, world: world,
                                      progress: { epoch, done, total, loss in
                                          progress.update("epoch \(epoch)", done: done, total: total,
                                                          detail: "loss \(formatNumber(Double(loss), digits: 4))")
                                      },
                                      onEpoch: { r in
                                          progress.clear()
                                          print(String(format: "epoch %2d  train loss %.4f  test loss %.4f  test acc %6.2f%%  %8.0f samples/s  %6.1fs",
                                                       r.epoch, r.trainLoss, r.testLoss, r.testAccuracy * 100,
                                                       r.samplesPerSecond, r.elapsed))
                                          if let hourlyCost, r.samplesPerSecond > 0 {
                                              let c = TrainingCost(units: Double(data.train.count), unitsPerSecond: r.samplesPerSecond,
                                                                   hourlyCost: hourlyCost)
                                              print(String(format: "          at $%.2f/h: an epoch of %d samples takes %.1f s and costs $%.5f",
                                                           hourlyCost, data.train.count, c.seconds, c.cost))
                                          }
                                          fflush(nil)
                                      })
        if let report, world?.rank ?? 0 == 0 {
            let json = trainingReport(model: model.rawValue, config: config, augmentation: augmentation, reports: reports)
            try writeFileAtomically(Array((json.description + "\n").utf8), to: report)
            print("report written to \(report)")
        }
    }
}

extension TrainableModel: ExpressibleByArgument {}
extension ScheduleKind: ExpressibleByArgument {}

/// A model `kiln train` accepts: a classifier or a character-level language model.
enum ModelName: ExpressibleByArgument {
    case classifier(TrainableModel)
    case language(LanguageModelKind)

    init?(argument: String) {
        if let m = TrainableModel(rawValue: argument) { self = .classifier(m) }
        else if let k = LanguageModelKind(rawValue: argument) { self = .language(k) }
        else { return nil }
    }

    static var allValueStrings: [String] {
        TrainableModel.allCases.map(\.rawValue) + LanguageModelKind.allCases.map(\.rawValue)
    }
}

extension OptimizerKind: ExpressibleByArgument {}
extension DatasetChoice: ExpressibleByArgument {}

/// A one-line progress bar, redrawn in place; silent when stdout is not a terminal.
final class ProgressLine {
    let enabled: Bool
    init(enabled: Bool) { self.enabled = enabled }

    func update(_ label: String, done: Int, total: Int, detail: String) {
        guard enabled, total > 0 else { return }
        let width = 30
        let filled = width * done / total
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
        print("\r\(label) [\(bar)] \(done)/\(total) \(detail)", terminator: "")
        fflush(nil)  // all output streams: stdout is a C global Swift 6 treats as unsafe
    }

    func clear() {
        guard enabled else { return }
        print("\r\u{1B}[2K", terminator: "")
    }
}

func formatNumber(_ value: Double, digits: Int) -> String { String(format: "%.\(digits)f", value) }
