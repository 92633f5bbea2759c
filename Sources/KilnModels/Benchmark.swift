import KilnNN
import KilnOptim

/// A reference training workload: one step is forward + backward + optimizer update on
/// synthetic inputs of the right shape, created once (see BENCHMARKS.md).
public struct BenchWorkload: Sendable {
    /// The workload's name (`mlp`, …).
    public let name: String
    /// What throughput counts: `samples` or `tokens`.
    public let unit: String
    /// The batch size of the reference configuration.
    public let defaultBatchSize: Int
    /// Units per sample (1 for samples; the sequence length for tokens).
    public let unitsPerSample: Int
    /// Training FLOPs per unit (matmul = 2·M·N·K, training ≈ 3 × forward).
    public let flopsPerUnit: Double
    /// Builds the model, optimizer and synthetic batch for `batchSize` on `device` (initialised on
    /// the CPU from `seed`, then moved), and returns one step.
    public let makeStep: @Sendable (_ batchSize: Int, _ seed: UInt64, _ device: Device) -> () -> Void

    /// A workload description.
    public init(name: String, unit: String, defaultBatchSize: Int, unitsPerSample: Int, flopsPerUnit: Double,
                makeStep: @escaping @Sendable (Int, UInt64, Device) -> () -> Void) {
        self.name = name
        self.unit = unit
        self.defaultBatchSize = defaultBatchSize
        self.unitsPerSample = unitsPerSample
        self.flopsPerUnit = flopsPerUnit
        self.makeStep = makeStep
    }
}

extension BenchWorkload {
    /// The `mlp` workload: 784-512-512-10 MLP, batch 128, Adam lr 1e-3.
    public static let mlp = BenchWorkload(
        name: "mlp", unit: "samples", defaultBatchSize: 128, unitsPerSample: 1,
        flopsPerUnit: 3 * 2 * Double(784 * 512 + 512 * 512 + 512 * 10)
    ) { batchSize, seed, device in
        let generator = RandomGenerator(seed: seed)
        let model = makeMLP(generator: generator).to(device)
        let optimizer = Adam(model.parameters(), learningRate: 1e-3)
        let x = Tensor.uniform([batchSize, 784], generator: generator).to(device)
        let labels = (0..<batchSize).map { _ in Int32(generator.nextInt(below: 10)) }
        let reduce = BenchWorkload.gradientReducer?(model.parameters())
        return {
            optimizer.zeroGrad()
            let loss = crossEntropy(model(x), labels: labels)
            loss.backward()
            reduce?()
            optimizer.step()
        }
    }

    /// Every workload `kiln bench` knows, in the order of BENCHMARKS.md.
    public static let all: [BenchWorkload] = [.mlp, .cnn, .resnet20, .gpt, .lstm]

    /// The workload called `name`, or nil.
    public static func named(_ name: String) -> BenchWorkload? { all.first { $0.name == name } }
}

/// The timings of one benchmark run.
public struct BenchResult: Sendable {
    /// The workload's name.
    public var workload: String
    /// `samples` or `tokens`.
    public var unit: String
    /// Compute threads used.
    public var threads: Int
    /// Samples per step.
    public var batchSize: Int
    /// Units (samples or tokens) per step.
    public var unitsPerStep: Int
    /// Training FLOPs per unit.
    public var flopsPerUnit: Double
    /// Wall time of each timed step, in seconds.
    public var stepSeconds: [Double]
    /// The machine's sgemm GFLOP/s measured in the same run (0 if not measured).
    public var sgemmPeakGFLOPS: Double
    /// Peak resident set size of the process after the run, in bytes.
    public var peakResidentBytes: Int
    /// Where the steps ran.
    public var device: Device = .cpu

    /// The `q`-quantile (0…1) of the step time in milliseconds.
    public func stepMilliseconds(quantile q: Double) -> Double {
        let sorted = stepSeconds.sorted()
        guard !sorted.isEmpty else { return 0 }
        let position = q * Double(sorted.count - 1)
        let lo = Int(position), hi = min(lo + 1, sorted.count - 1)
        let t = position - Double(lo)
        return (sorted[lo] * (1 - t) + sorted[hi] * t) * 1000
    }

    /// Median step time in milliseconds.
    public var medianMilliseconds: Double { stepMilliseconds(quantile: 0.5) }
    /// Units per second at the median step time.
    public var unitsPerSecond: Double { Double(unitsPerStep) / (medianMilliseconds / 1000) }
    /// Achieved GFLOP/s at the median step time.
    public var gflops: Double { unitsPerSecond * flopsPerUnit / 1e9 }
    /// Share of the measured sgemm peak (0 when not measured).
    public var peakFraction: Double { sgemmPeakGFLOPS > 0 ? gflops / sgemmPeakGFLOPS : 0 }
}

/// Runs `warmup` untimed steps, then `steps` timed ones, of `workload` on `device` (each step
/// waits for the device to finish it).
public func runBenchmark(_ workload: BenchWorkload, batchSize: Int? = nil, steps: Int = 100, warmup: Int = 10,
                         seed: UInt64 = 1, sgemmPeakGFLOPS: Double = 0, device: Device = .cpu) -> BenchResult {
    precondition(steps > 0 && warmup >= 0, "runBenchmark: steps must be positive and warmup non-negative")
    let batch = batchSize ?? workload.defaultBatchSize
    let step = workload.makeStep(batch, seed, device)
    for _ in 0..<warmup { step() }
    device.synchronize()
    let clock = ContinuousClock()
    var times: [Double] = []
    times.reserveCapacity(steps)
    for _ in 0..<steps {
        let start = clock.now
        step()
        device.synchronize()
        times.append((clock.now - start).seconds)
    }
    return BenchResult(workload: workload.name, unit: workload.unit, threads: threadCount(), batchSize: batch,
                       unitsPerStep: batch * workload.unitsPerSample, flopsPerUnit: workload.flopsPerUnit,
                       stepSeconds: times, sgemmPeakGFLOPS: sgemmPeakGFLOPS,
                       peakResidentBytes: Machine.peakResidentBytes(), device: device)
}
