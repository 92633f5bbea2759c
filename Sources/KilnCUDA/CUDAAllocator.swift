import KilnCompute
import Synchronization

/// Device buffers by size bucket, like the host `BufferCache`: a released buffer goes back to its
/// bucket and the next allocation of that bucket takes it, so a steady training step calls
/// `cuMemAlloc` for nothing.
///
/// NOTE: reuse is safe without synchronisation because every kernel, copy and cuBLAS call of the
/// context runs on one stream, in order: a buffer taken again is written only by work queued after
/// the last work that read it.
package final class CUDAAllocator: Sendable {
    private let driver: CUDADriver
    /// Free addresses by capacity (in elements).
    private let free = Mutex<[Int: [UInt64]]>([:])
    private let held = Atomic<Int>(0)
    private let allocations = Atomic<Int>(0)

    init(driver: CUDADriver) { self.driver = driver }

    /// Capacities in elements: multiples of 64 (256 bytes, cuMemAlloc's alignment) below 1 Mi
    /// elements, then multiples of 1/16 of the next power of two (at most 1/8 wasted), so sizes that differ
    /// a little share buffers.
    package static func bucket(_ count: Int) -> Int {
        let small = max(64, (count + 63) & ~63)
        guard small > 1 << 20 else { return small }
        let step = (1 << (Int.bitWidth - (small - 1).leadingZeroBitCount)) / 16
        return (small + step - 1) / step * step
    }

    /// The address of a buffer of `capacity` elements; on out-of-memory the cache is returned to
    /// the driver and the allocation tried once more before stopping with the driver's message.
    func take(_ capacity: Int) -> UInt64 {
        if let address = free.withLock({ $0[capacity]?.popLast() }) {
            held.subtract(capacity, ordering: .relaxed)
            return address
        }
        allocations.add(1, ordering: .relaxed)
        switch driver.allocate(bytes: capacity * 4) {
        case .success(let address): return address
        case .failure:
            trim()
            switch driver.allocate(bytes: capacity * 4) {
            case .success(let address): return address
            case .failure(let error): preconditionFailure("\(error) (out of device memory?)")
            }
        }
    }

    func give(_ address: UInt64, capacity: Int) {
        free.withLock { $0[capacity, default: []].append(address) }
        held.add(capacity, ordering: .relaxed)
    }

    /// Elements held in the cache, ready for reuse.
    var cachedElements: Int { held.load(ordering: .relaxed) }
    /// `cuMemAlloc` calls so far (cache misses); constant in a steady training loop.
    var systemAllocations: Int { allocations.load(ordering: .relaxed) }

    /// Frees every cached buffer.
    func trim() {
        let all = free.withLock { f -> [Int: [UInt64]] in
            defer { f = [:] }
            return f
        }
        for (capacity, list) in all {
            for address in list { driver.free(address) }
            held.subtract(capacity * list.count, ordering: .relaxed)
        }
    }
}
