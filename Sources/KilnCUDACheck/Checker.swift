import KilnCompute
import KilnCUDA

/// The outcome of one comparison of the CUDA backend against the CPU reference.
package struct CheckResult: Sendable {
    package var name: String
    /// The largest error: `|gpu − cpu| / (1 + |cpu|)` per element for value comparisons, or the
    /// distance from the expected statistic for random fills.
    package var error: Float
    package var tolerance: Float
    package var detail: String

    package var passed: Bool { error <= tolerance }  // NaN fails

    /// `PASS name  max error … (tolerance …)`.
    package var line: String {
        "\(passed ? "PASS" : "FAIL") \(name)  max error \(error) (tolerance \(tolerance))" + (detail.isEmpty ? "" : "  \(detail)")
    }
}

/// Values mirrored on both backends: a CPU storage and a device storage of `count` elements.
package struct Twin {
    package let cpu: Storage
    package let gpu: Storage
    package let count: Int

    /// `(cpu, gpu)` views with `layout`.
    package func view(_ layout: Layout) -> (cpu: StridedView, gpu: StridedView) {
        (StridedView(cpu, layout), StridedView(gpu, layout))
    }
    /// Dense views of `shape`.
    package func view(_ shape: [Int]) -> (cpu: StridedView, gpu: StridedView) { view(Layout(contiguous: shape)) }
}

/// Runs checks against one CUDA backend and collects their results. Inputs come from a seeded
/// generator, so every run compares the same values.
package final class Checker {
    package let gpu: CUDABackend
    package let cpu = CPUBackend.shared
    package let random = RandomGenerator(seed: 0x4355_4441)
    package private(set) var results: [CheckResult] = []
    /// Called with each result as it is recorded (the runner prints it at once).
    package var onResult: ((CheckResult) -> Void)?

    package init(gpu: CUDABackend) { self.gpu = gpu }

    // MARK: inputs

    /// `count` uniform values in [low, high).
    package func values(_ count: Int, _ low: Float = -1, _ high: Float = 1) -> [Float] {
        (0..<count).map { _ in low + (high - low) * random.nextFloat() }
    }

    /// `values` on both backends (at least one element of capacity).
    package func twin(_ values: [Float]) -> Twin {
        let c = cpu.allocate(max(values.count, 1)), g = gpu.allocate(max(values.count, 1))
        c.pointer.update(from: values, count: values.count)
        gpu.write(values, into: StridedView(g, Layout(contiguous: [values.count])))
        return Twin(cpu: c, gpu: g, count: values.count)
    }

    /// Uninitialised-but-equal outputs: both start as the same random values, so an element a
    /// kernel forgets to write shows up as a difference.
    package func output(_ count: Int) -> Twin { twin(values(count, -7, 7)) }

    /// The first `count` elements of a CPU storage.
    package func host(_ s: Storage, _ count: Int) -> [Float] { Array(UnsafeBufferPointer(start: s.pointer, count: count)) }
    /// The first `count` elements of a device storage.
    package func device(_ s: Storage, _ count: Int) -> [Float] { gpu.read(StridedView(s, Layout(contiguous: [count]))) }

    // MARK: comparisons

    /// Records the largest `|gpu − cpu| / (1 + |cpu|)` (NaN matching NaN counts as equal).
    package func compare(_ name: String, cpu c: [Float], gpu g: [Float], tolerance: Float, detail: String = "") {
        guard c.count == g.count else {
            record(CheckResult(name: name, error: .infinity, tolerance: tolerance, detail: "\(g.count) values, expected \(c.count)"))
            return
        }
        var worst: Float = 0, at = -1
        for i in c.indices {
            let e: Float = c[i].isNaN && g[i].isNaN ? 0 : (c[i] == g[i] ? 0 : abs(g[i] - c[i]) / (1 + abs(c[i])))
            if !(e <= worst) { worst = e; at = i }
        }
        let location = at >= 0 && !(worst <= tolerance) ? "first worst at \(at): cpu \(c[at]), gpu \(g[at])" : ""
        record(CheckResult(name: name, error: worst, tolerance: tolerance,
                           detail: [detail, location].filter { !$0.isEmpty }.joined(separator: "; ")))
    }

    /// Compares the first `count` (default: all) elements of a twin.
    package func compare(_ name: String, _ t: Twin, count: Int? = nil, tolerance: Float, detail: String = "") {
        let n = count ?? t.count
        compare(name, cpu: host(t.cpu, n), gpu: device(t.gpu, n), tolerance: tolerance, detail: detail)
    }

    /// Records a statistic against its expected value.
    package func expect(_ name: String, _ observed: Double, near expected: Double, within tolerance: Double) {
        record(CheckResult(name: name, error: Float(abs(observed - expected)), tolerance: Float(tolerance),
                           detail: "observed \(observed), expected \(expected)"))
    }

    /// Records a condition that must hold.
    package func require(_ name: String, _ condition: Bool, _ detail: @autoclosure () -> String = "") {
        record(CheckResult(name: name, error: condition ? 0 : 1, tolerance: 0, detail: condition ? "" : detail()))
    }

    package func record(_ result: CheckResult) {
        results.append(result)
        onResult?(result)
    }
}

/// The checks, by group (`kiln-cuda-check --filter` and the XCTest cases select groups by name).
package enum CUDAChecks {
    package static let groups: [(name: String, run: @Sendable (Checker) -> Void)] = [
        ("elementwise", { $0.checkElementwise() }),
        ("reduce", { $0.checkReductions() }),
        ("matmul", { $0.checkProducts() }),
        ("softmax", { $0.checkSoftmax() }),
        ("embedding", { $0.checkEmbedding() }),
        ("layernorm", { $0.checkLayerNorm() }),
        ("attention", { $0.checkAttention() }),
        ("recurrent", { $0.checkRecurrent() }),
        ("random", { $0.checkRandom() }),
        ("conv", { $0.checkConvolutions() }),
        ("pool", { $0.checkPooling() }),
        ("batchnorm", { $0.checkBatchNorm() }),
        ("optimizer", { $0.checkOptimizers() }),
        ("training", { $0.checkTraining() }),
    ]

    /// The CUDA backend of device 0, activating CUDA if needed; nil (with the reason) when
    /// CUDA cannot be used here.
    package static func backend() -> (CUDABackend?, String) {
        guard CUDA.isAvailable else { return (nil, "\(CUDA.status.problem ?? "unknown")\n\(CUDA.status.details)") }
        do {
            try CUDA.activate()
            if let registered = BackendRegistry.cuda as? CUDABackend { return (registered, "") }
            return (try CUDABackend(context: CUDAContext.current()), "")
        } catch {
            return (nil, "\(error)")
        }
    }

    /// Runs the groups whose names contain `filter` (all when nil).
    package static func run(_ gpu: CUDABackend, filter: String? = nil,
                            onResult: ((CheckResult) -> Void)? = nil) -> [CheckResult] {
        let checker = Checker(gpu: gpu)
        checker.onResult = onResult
        for group in groups where filter.map({ group.name.contains($0) }) ?? true { group.run(checker) }
        gpu.context.synchronize()
        return checker.results
    }
}
