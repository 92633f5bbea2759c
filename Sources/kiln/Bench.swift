import ArgumentParser
import Kiln
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

    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1, got \(steps)") }
        guard warmup >= 0 else { throw ValidationError("--warmup must not be negative, got \(warmup)") }
        if let b = batchSize, b < 1 { throw ValidationError("--batch-size must be at least 1, got \(b)") }
        for name in workloads where BenchWorkload.named(name) == nil {
            throw ValidationError("unknown workload '\(name)'; known: \(BenchWorkload.all.map(\.name).joined(separator: ", "))")
        }
    }

    func run() throws {
        setThreadCount(compute.threads)
        let selected = workloads.isEmpty ? BenchWorkload.all : workloads.compactMap(BenchWorkload.named)
        let peak = Machine.measureSGEMMPeak()
        if !json {
            print("sgemm peak: \(formatNumber(peak, digits: 1)) GFLOP/s on \(threadCount()) thread(s) (2048³, best of 3)")
            print("workload   batch  throughput            step ms median [p10–p90]  GFLOP/s  of peak  peak RSS")
        }
        for workload in selected {
            let r = runBenchmark(workload, batchSize: batchSize, steps: steps, warmup: warmup, sgemmPeakGFLOPS: peak)
            if json {
                print(benchJSON(r))
            } else {
                print(String(format: "%-9@  %5d  %9.0f %-9@  %7.2f [%.2f–%.2f]  %11.1f  %6.1f%%  %5.0f MB",
                             r.workload as NSString, r.batchSize, r.unitsPerSecond, "\(r.unit)/s" as NSString,
                             r.medianMilliseconds, r.stepMilliseconds(quantile: 0.1), r.stepMilliseconds(quantile: 0.9),
                             r.gflops, r.peakFraction * 100, Double(r.peakResidentBytes) / 1e6))
            }
        }
    }
}

/// One benchmark result as the JSON object `kiln bench --json` prints.
func benchJSON(_ r: BenchResult) -> JSONObject {
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
    return o
}
