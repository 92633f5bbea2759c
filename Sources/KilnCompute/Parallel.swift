import CBLAS
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

private let configuredThreads = Atomic<Int>(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

/// Sets how many threads Kiln's compute uses: the Swift kernels' split and the split of each
/// matrix product.
public func setThreadCount(_ n: Int) {
    precondition(n >= 1, "setThreadCount: need at least 1 thread, got \(n)")
    configuredThreads.store(n, ordering: .relaxed)
    openblas_set_num_threads(Int32(openBLASThreads ?? 1))
}

/// OpenBLAS's own thread count when the environment sets `KILN_OPENBLAS_THREADS`; then OpenBLAS
/// splits each product itself. Otherwise (nil) OpenBLAS runs on one thread and Kiln splits.
package let openBLASThreads: Int? = getenv("KILN_OPENBLAS_THREADS").flatMap { Int(String(cString: $0)) }

/// Runs once before the first matrix product: OpenBLAS starts with a thread per core.
package let configureOpenBLAS: Void = openblas_set_num_threads(Int32(openBLASThreads ?? 1))

/// How many threads Kiln's compute uses (see `setThreadCount(_:)`); by default one per CPU.
public func threadCount() -> Int { configuredThreads.load(ordering: .relaxed) }

/// The name of the kernel set OpenBLAS picked for this CPU (for example `Cooperlake`).
public func openBLASCoreName() -> String { String(cString: openblas_get_corename()) }

/// OpenBLAS's build description (version, target, threading).
public func openBLASConfig() -> String { String(cString: openblas_get_config()) }

/// OpenBLAS's own thread count.
public func openBLASThreadCount() -> Int { Int(openblas_get_num_threads()) }

/// Below this many elements, splitting a Swift kernel across cores costs more than it saves.
package let parallelThreshold = 1 << 16

/// Runs `body(range)` over `0..<count` split in contiguous chunks, one per thread, when `work`
/// (elements touched) is large enough to pay for the split; otherwise inline on this thread.
@inline(__always)
package func parallelChunks(_ count: Int, work: Int, _ body: (Range<Int>) -> Void) {
    let threads = min(threadCount(), count)
    if threads <= 1 || work < parallelThreshold {
        body(0..<count)
        return
    }
    // The chunks are disjoint; kernels write only their own chunk.
    forEachConcurrentChunk(threads) { t in
        let lo = count * t / threads, hi = count * (t + 1) / threads
        if lo < hi { body(lo..<hi) }
    }
}
