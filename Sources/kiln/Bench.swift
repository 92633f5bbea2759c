import ArgumentParser
import Kiln
import KilnDistributed
import KilnModels
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time training steps of the reference workloads on synthetic data.",
        discussion: "Workloads: \(BenchWorkload.all.map(\.name).joined(separator: ", ")). Reports the median step time, throughput, achieved GFLOP/s and its share of this machine's sgemm peak, measured in the same run.")

    @Argument(help: "Workloads to run (default: all).")
    var workloads: [String] = []

    @Option(help: "Timed steps per workload.")
    var steps: Int = 100

    @Option(help: "Untimed warm-up steps.")
    var warmup: Int = 10

    @Option(help: "Samples per step (default: each workload's reference batch).")
    var batchSize: Int?

    @Flag(help: "Print one JSON object per workload instead of a table.")
    var json = false

    @Option(help: "Device to run on: cpu, cuda or cuda:N (fails with what is missing when CUDA is not usable here).")
    var device: String = "cpu"

    @Option(help: ArgumentHelp("Price of this machine per hour (e.g. 0.90): adds time and cost per epoch of each workload's dataset and per million samples or tokens.",
                               valueName: "USD"))
    var hourlyCost: Double?

    @Flag(help: "Profile one workload's training step per op (forward, backward, optimizer) instead of timing it.")
    var profile = false

    @OptionGroup var compute: ComputeOptions

    @OptionGroup(title: "Distributed") var parallel: DistributedOptions

    func validate() throws {
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1, got \(steps)") }
        guard warmup >= 0 else { throw ValidationError("--warmup must not be negative, got \(warmup)") }
        if let b = batchSize, b < 1 { throw ValidationError("--batch-size must be at least 1, got \(b)") }
        if try parseDevice(device) != .cpu && (parallel.distributed || profile) {
            throw ValidationError("--device \(device) does not combine with --distributed or --profile (CPU only)")
        }
        if let c = hourlyCost, !(c >= 0 && c.isFinite) {
            throw ValidationError("--hourly-cost must be a non-negative number of dollars per hour, got \(c)")
        }
        if parallel.distributed && (profile || json || hourlyCost != nil) {
            throw ValidationError("--distributed prints its own table; it does not combine with --profile, --json or --hourly-cost")
        }
        if profile && workloads.count != 1 {
            throw ValidationError("--profile takes exactly one workload, e.g. kiln bench --profile mlp")
        }
        for name in workloads where BenchWorkload.named(name) == nil {
            throw ValidationError("unknown workload '\(name)'; known: \(BenchWorkload.all.map(\.name).joined(separator: ", "))")
        }
    }

    func run() throws {
        try prepare(parseDevice(device))
        let world = try parallel.join()
        try parallel.run(world) { try bench(world) }
    }

    private func bench(_ world: Communicator?) throws {
        setThreadCount(parallel.threads(compute.threads, world))
        let selected = workloads.isEmpty ? BenchWorkload.all : workloads.compactMap(BenchWorkload.named)
        if let world {
            return benchDistributed(selected, world: world, batchSize: batchSize, steps: steps, warmup: warmup)
        }
        if profile {
            let p = profileBenchmark(selected[0], batchSize: batchSize, steps: min(steps, 20), warmup: warmup)
            print(json ? profileJSON(p).description : formatProfile(p))
            return
        }
        let target = try parseDevice(device)
        // The share of peak compares with the CPU's sgemm; on a GPU it is left out (0).
        let peak = target == .cpu ? Machine.measureSGEMMPeak() : 0
        if !json {
            print(target == .cpu
                  ? "sgemm peak: \(formatNumber(peak, digits: 1)) GFLOP/s on \(threadCount()) thread(s) (2048³, best of 3)"
                  : "device: \(target) (share of peak not measured)")
            print("workload   batch  throughput            step ms median [p10–p90]  GFLOP/s  of peak  peak RSS")
        }
        for workload in selected {
            let r = runBenchmark(workload, batchSize: batchSize, steps: steps, warmup: warmup, sgemmPeakGFLOPS: peak,
                                 device: target)
            if json {
                print(benchJSON(r, hourlyCost: hourlyCost))
            } else {
                print(padded(r.workload, 9) + String(format: "  %5d  %9.0f ", r.batchSize, r.unitsPerSecond)
                      + padded("\(r.unit)/s", 9) + String(format: "  %7.2f [%.2f–%.2f]  %11.1f  %6.1f%%  %5.0f MB",
                             r.medianMilliseconds, r.stepMilliseconds(quantile: 0.1), r.stepMilliseconds(quantile: 0.9),
                             r.gflops, r.peakFraction * 100, Double(r.peakResidentBytes) / 1e6))
                if let hourlyCost, let w = BenchWorkload.named(r.workload) {
                    let epoch = TrainingCost(units: Double(w.epochUnits), unitsPerSecond: r.unitsPerSecond, hourlyCost: hourlyCost)
                    let million = TrainingCost(units: 1e6, unitsPerSecond: r.unitsPerSecond, hourlyCost: hourlyCost)
                    print(String(format: "           at $%.2f/h: epoch of %d %@ %.1f s $%.5f · per million %@ %.1f s $%.5f",
                                 hourlyCost, w.epochUnits, r.unit as NSString, epoch.seconds, epoch.cost,
                                 r.unit as NSString, million.seconds, million.cost))
                }
            }
        }
    }
}

/// One benchmark result as the JSON object `kiln bench --json` prints.
func benchJSON(_ r: BenchResult, hourlyCost: Double? = nil) -> JSONObject {
    var o = JSONObject()
    o.add("workload", r.workload)
    o.add("unit", r.unit)
    o.add("threads", r.threads)
    o.add("batch_size", r.batchSize)
    o.add("\(r.unit)_per_second", r.unitsPerSecond)
    if r.unit != "samples" { o.add("samples_per_second", r.unitsPerSecond / Double(max(r.unitsPerStep / r.batchSize, 1))) }
    o.add("step_ms_median", r.medianMilliseconds)
    o.add("step_ms_p10", r.stepMilliseconds(quantile: 0.1))
    o.add("step_ms_p90", r.stepMilliseconds(quantile: 0.9))
    o.add("flops_per_sample", r.flopsPerUnit * Double(r.unitsPerStep / r.batchSize))
    o.add("gflops", r.gflops)
    o.add("sgemm_peak_gflops", r.sgemmPeakGFLOPS)
    o.add("peak_fraction", r.peakFraction)
    o.add("peak_rss_bytes", r.peakResidentBytes)
    o.add("device", r.device.description)
    if let hourlyCost, let w = BenchWorkload.named(r.workload), r.unitsPerSecond > 0 {
        let epoch = TrainingCost(units: Double(w.epochUnits), unitsPerSecond: r.unitsPerSecond, hourlyCost: hourlyCost)
        let million = TrainingCost(units: 1e6, unitsPerSecond: r.unitsPerSecond, hourlyCost: hourlyCost)
        o.add("hourly_cost_usd", hourlyCost)
        o.add("epoch_units", w.epochUnits)
        o.add("epoch_seconds", epoch.seconds)
        o.add("epoch_cost_usd", epoch.cost)
        o.add("seconds_per_million_\(r.unit)", million.seconds)
        o.add("cost_per_million_\(r.unit)_usd", million.cost)
    }
    return o
}

/// A step profile as the table `kiln bench --profile` prints: one row per op and phase, the
/// slowest first, with each row's share of the measured (profiled) step time.
func formatProfile(_ p: StepProfile) -> String {
    let step = p.stepSeconds
    var lines = [String(format: "%@: per-op profile, mean of %d steps: step %.2f ms profiled (%.2f ms unprofiled median), rows add up to %.2f ms (%.1f%%)",
                        p.workload as NSString, p.steps, step * 1000, p.unprofiledStepSeconds * 1000,
                        p.attributedSeconds * 1000, p.attributedSeconds / step * 100)]
    lines.append(padded("op", 41) + padded("phase", 10) + " calls   total ms   share  GFLOP/s")
    for e in p.entries.sorted(by: { $0.seconds > $1.seconds }) {
        let gflops = e.flops > 0 && e.seconds > 0 ? String(format: "%7.1f", e.flops / e.seconds / 1e9) : "      –"
        lines.append(padded(String(e.name.prefix(40)), 41) + padded(e.phase.rawValue, 10)
                     + String(format: "%6d %10.3f %6.1f%%  %@", e.calls, e.seconds * 1000, e.seconds / step * 100,
                              gflops as NSString))
    }
    for phase in ProfilePhase.allCases {
        let t = p.entries.filter { $0.phase == phase }.reduce(0) { $0 + $1.seconds }
        lines.append(padded("total", 41) + padded(phase.rawValue, 10) + String(format: "       %10.3f %6.1f%%", t * 1000, t / step * 100))
    }
    return lines.joined(separator: "\n")
}

/// `text` padded with spaces to `width` characters (`%-N@` does not pad on Linux).
private func padded(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}

/// A step profile as one JSON object.
func profileJSON(_ p: StepProfile) -> JSONObject {
    var o = JSONObject()
    o.add("workload", p.workload)
    o.add("steps", p.steps)
    o.add("step_ms", p.stepSeconds * 1000)
    o.add("step_ms_unprofiled", p.unprofiledStepSeconds * 1000)
    o.add("attributed_ms", p.attributedSeconds * 1000)
    o.add("ops", p.entries.map { e -> JSONObject in
        var r = JSONObject()
        r.add("op", e.name)
        r.add("phase", e.phase.rawValue)
        r.add("calls", e.calls)
        r.add("ms", e.seconds * 1000)
        r.add("share", e.seconds / p.stepSeconds)
        r.add("flops", e.flops)
        return r
    })
    return o
}
