import Kiln

/// A per-op profile of a workload's training step (`kiln bench --profile`).
public struct StepProfile: Sendable {
    /// The workload's name.
    public var workload: String
    /// Steps profiled; the rows are per-step averages.
    public var steps: Int
    /// Rows per op and phase (per step), in the order they first ran.
    public var entries: [ProfileEntry]
    /// Mean wall time of a profiled step, in seconds (the profiler's own cost included).
    public var stepSeconds: Double
    /// Median wall time of an unprofiled step just before, in seconds: the profiler's overhead is
    /// the difference.
    public var unprofiledStepSeconds: Double

    /// Sum of all rows' seconds per step: equals `stepSeconds` up to the time the profiler cannot see.
    public var attributedSeconds: Double { entries.reduce(0) { $0 + $1.seconds } }
}

/// Profiles `steps` training steps of `workload` after `warmup` untimed steps and `steps` timed
/// unprofiled ones (their median is the unprofiled step time). The time after `backward()` returns until the step ends is the
/// optimizer's row.
public func profileBenchmark(_ workload: BenchWorkload, batchSize: Int? = nil, steps: Int = 20, warmup: Int = 5,
                             seed: UInt64 = 1) -> StepProfile {
    precondition(steps > 0 && warmup >= 0, "profileBenchmark: steps must be positive and warmup non-negative")
    let step = workload.makeStep(batchSize ?? workload.defaultBatchSize, seed, .cpu)
    let clock = ContinuousClock()
    for _ in 0..<warmup { step() }
    var plain: [Double] = []
    for _ in 0..<steps {
        let start = clock.now
        step()
        plain.append((clock.now - start).seconds)
    }
    plain.sort()
    Profiler.start()
    let start = clock.now
    for _ in 0..<steps {
        step()
        Profiler.enter(.forward, closing: "optimizer step")  // the time since backward() returned
    }
    let total = (clock.now - start).seconds
    let rows = Profiler.stop().compactMap { e -> ProfileEntry? in
        var e = e
        e.calls = (e.calls + steps / 2) / steps
        e.seconds /= Double(steps)
        e.flops /= Double(steps)
        return e.calls == 0 && e.seconds == 0 ? nil : e
    }
    return StepProfile(workload: workload.name, steps: steps, entries: rows, stepSeconds: total / Double(steps),
                       unprofiledStepSeconds: plain[plain.count / 2])
}
