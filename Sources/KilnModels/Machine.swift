#if canImport(Glibc)
import Glibc
#endif
import Kiln

/// Facts about this process and machine that benchmarks report.
public enum Machine {
    /// The largest resident set size this process has had, in bytes.
    public static func peakResidentBytes() -> Int {
        var usage = rusage()
        getrusage(0 /* RUSAGE_SELF */, &usage)
        return usage.ru_maxrss * 1024  // Linux reports kilobytes
    }

    /// The current resident set size in bytes (from /proc/self/statm), or nil where unavailable.
    public static func residentBytes() -> Int? {
        guard let f = fopen("/proc/self/statm", "r") else { return nil }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 256)
        guard fgets(&line, Int32(line.count), f) != nil else { return nil }
        let fields = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            .split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Logical CPUs online.
    public static var cpuCount: Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    /// Best-of-`repeats` sgemm throughput in GFLOP/s for `n`×`n`×`n` at the current thread count:
    /// the yardstick for a workload's share of peak.
    public static func measureSGEMMPeak(n: Int = 2048, repeats: Int = 3) -> Double {
        let a = Tensor.uniform([n, n], low: -1, high: 1)
        let b = Tensor.uniform([n, n], low: -1, high: 1)
        _ = a.matmul(b)  // warm up threads and caches
        let clock = ContinuousClock()
        var best = Double.infinity
        for _ in 0..<repeats {
            let start = clock.now
            _ = a.matmul(b)
            best = min(best, (clock.now - start).seconds)
        }
        return 2 * Double(n * n * n) / best / 1e9
    }
}
