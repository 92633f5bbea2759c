import Synchronization

/// A flat buffer of Float32 elements owned by one tensor storage. Host buffers come from and go back
/// to a size-bucketed cache, so a steady training step allocates nothing new from the system.
///
/// A device storage (`device != .cpu`) holds a device address instead of a host pointer; its
/// backend's allocator gets the buffer back through `release` when the storage goes away. Host
/// code must not read it through `pointer`: copy it to the CPU first (`Backend.read`).
package final class Storage: @unchecked Sendable {
    private var host: UnsafeMutablePointer<Float>?
    /// The first element's device address (0 for a CPU storage).
    package private(set) var deviceAddress: UInt64
    package private(set) var capacity: Int
    package private(set) var device: Device
    private var release: (@Sendable (UInt64, Int) -> Void)?

    /// Uninitialised storage for `count` elements on the CPU.
    package init(count: Int) {
        self.capacity = BufferCache.bucket(count)
        self.host = BufferCache.shared.take(capacity)
        self.deviceAddress = 0
        self.device = .cpu
        self.release = nil
    }

    /// Storage for `capacity` elements at `address` on `device`; `release(address, capacity)` runs
    /// when the storage is deinitialised (the device allocator takes the buffer back).
    package init(device: Device, address: UInt64, capacity: Int,
                 release: @escaping @Sendable (UInt64, Int) -> Void) {
        precondition(device != .cpu, "Storage(device:address:): use Storage(count:) for CPU memory")
        self.host = nil
        self.deviceAddress = address
        self.capacity = capacity
        self.device = device
        self.release = release
    }

    deinit {
        if let host { BufferCache.shared.give(host, capacity: capacity) } else { release?(deviceAddress, capacity) }
    }

    /// Swaps the memory of two storages (buffer, capacity, device), so every tensor viewing this
    /// storage sees `other`'s elements where they are: how a module moves to another device in
    /// place. `other` then owns this storage's old buffer and releases it when it goes away.
    package func exchangeContents(with other: Storage) {
        swap(&host, &other.host)
        swap(&deviceAddress, &other.deviceAddress)
        swap(&capacity, &other.capacity)
        swap(&device, &other.device)
        swap(&release, &other.release)
    }

    /// The host address of the first element. Only CPU storages have one: an op that reaches this
    /// with a device storage has no kernel for that device.
    package var pointer: UnsafeMutablePointer<Float> {
        guard let host else {
            preconditionFailure("a CPU kernel was given a \(device) storage: this op has no \(device) kernel "
                                + "(move the tensors with .to(.cpu) first)")
        }
        return host
    }

    package var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: pointer, count: capacity)
    }
}

/// Released buffers, by capacity. Capacities are rounded up to 16 elements (64 bytes), so the
/// repeating sizes of a training step find their buffers again.
package final class BufferCache: Sendable {
    package static let shared = BufferCache()
    // Addresses (as integers, which are Sendable) of free buffers, by capacity.
    private let free = Mutex<[Int: [UInt]]>([:])
    private let held = Atomic<Int>(0)
    private let allocations = Atomic<Int>(0)

    package static func bucket(_ count: Int) -> Int { max(16, (count + 15) & ~15) }

    func take(_ capacity: Int) -> UnsafeMutablePointer<Float> {
        if let address = free.withLock({ $0[capacity]?.popLast() }) {
            held.subtract(capacity, ordering: .relaxed)
            return UnsafeMutablePointer(bitPattern: address)!
        }
        allocations.add(1, ordering: .relaxed)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: capacity * 4, alignment: 64)
        return raw.bindMemory(to: Float.self, capacity: capacity)
    }

    func give(_ pointer: UnsafeMutablePointer<Float>, capacity: Int) {
        free.withLock { $0[capacity, default: []].append(UInt(bitPattern: pointer)) }
        held.add(capacity, ordering: .relaxed)
    }

    /// Elements held in the cache, ready for reuse.
    package var cachedElements: Int { held.load(ordering: .relaxed) }

    /// Buffers allocated from the system so far (a cache miss each); constant in a steady loop.
    package var systemAllocations: Int { allocations.load(ordering: .relaxed) }

    /// Returns every cached buffer to the system.
    package func trim() {
        let all = free.withLock { f -> [Int: [UInt]] in
            let all = f
            f = [:]
            return all
        }
        for (capacity, list) in all {
            for address in list { UnsafeMutableRawPointer(bitPattern: address)!.deallocate() }
            held.subtract(capacity * list.count, ordering: .relaxed)
        }
    }
}
