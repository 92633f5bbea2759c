import KilnCompute
import Synchronization

/// One device's primary context with Kiln's stream, caching allocator, loaded modules and cuBLAS
/// handle. Every operation of the context is queued on its one stream, in program order; host
/// reads (`download`) wait for it.
package final class CUDAContext: @unchecked Sendable {
    package let ordinal: Int
    /// The device's compute capability, e.g. (9, 0) for H100/H200; kernels compile for it.
    package let computeCapability: (major: Int, minor: Int)
    package let blas: CUBLAS
    let driver: CUDADriver
    let handle: OpaquePointer
    let stream: OpaquePointer
    let allocator: CUDAAllocator
    /// Wait for every kernel as it is launched (`KILN_CUDA_SYNC=1`), so a fault names its kernel.
    let synchronousLaunches: Bool
    /// Loaded modules by PTX text, and their functions by kernel name (handles as integers, which
    /// are Sendable).
    private let modules = Mutex<[String: UInt]>([:])
    private let functions = Mutex<[String: [(ptx: String, function: UInt)]]>([:])
    private let scratch: Mutex<ScratchRing>

    private static let active = Mutex<CUDAContext?>(nil)

    /// The context `CUDA.activate` created.
    package static func current() throws -> CUDAContext {
        guard let context = active.withLock({ $0 }) else {
            throw CUDAError.unavailable("CUDA.activate() has not been called")
        }
        return context
    }

    static func setCurrent(_ context: CUDAContext) { active.withLock { $0 = context } }

    init(driver: CUDADriver, ordinal: Int, cublas: (handle: UnsafeMutableRawPointer, path: String),
         environment: [String: String]) throws {
        let device = try driver.device(ordinal)
        self.driver = driver
        self.ordinal = ordinal
        computeCapability = try driver.computeCapability(device)
        handle = try driver.retainPrimaryContext(device)
        driver.makeCurrent(handle)
        stream = try driver.createStream()
        allocator = CUDAAllocator(driver: driver)
        blas = try CUBLAS(library: cublas.handle, path: cublas.path, stream: stream)
        blas.setTF32(environment["KILN_CUDA_TF32"] == "1")
        synchronousLaunches = environment["KILN_CUDA_SYNC"] == "1"
        scratch = Mutex(ScratchRing())
    }

    /// The `compute_XY` architecture name of this device, for NVRTC.
    package var architecture: String { "compute_\(computeCapability.major)\(computeCapability.minor)" }

    // MARK: memory

    /// Uninitialised device storage for `count` Float32 elements, from the caching allocator.
    package func allocate(_ count: Int) -> Storage {
        let capacity = CUDAAllocator.bucket(count)
        driver.makeCurrent(handle)
        let address = allocator.take(capacity)
        let allocator = self.allocator
        return Storage(device: .cuda(ordinal), address: address, capacity: capacity) { address, capacity in
            allocator.give(address, capacity: capacity)
        }
    }

    /// Queues a copy of `bytes` from host memory; `src` may be reused as soon as this returns (the
    /// driver stages pageable memory before returning).
    package func upload(_ src: UnsafeRawPointer, bytes: Int, to dst: UInt64) {
        guard bytes > 0 else { return }
        driver.makeCurrent(handle)
        driver.copyToDevice(dst, src, bytes: bytes, stream: stream)
    }

    /// Copies `bytes` to host memory after all queued work has run.
    package func download(_ src: UInt64, bytes: Int, to dst: UnsafeMutableRawPointer) {
        guard bytes > 0 else { return }
        driver.makeCurrent(handle)
        driver.copyToHost(dst, src, bytes: bytes, stream: stream)
        driver.synchronize(stream)
    }

    package func copyDevice(_ src: UInt64, to dst: UInt64, bytes: Int) {
        guard bytes > 0 else { return }
        driver.makeCurrent(handle)
        driver.copyOnDevice(dst, src, bytes: bytes, stream: stream)
    }

    /// Queues `bytes` (a multiple of 4) of zeros at `dst`.
    package func memsetZero(_ dst: UInt64, bytes: Int) {
        precondition(bytes % 4 == 0, "memsetZero: \(bytes) bytes is not a whole number of Float32")
        guard bytes > 0 else { return }
        driver.makeCurrent(handle)
        driver.fill32(dst, value: 0, count: bytes / 4, stream: stream)
    }

    /// Waits until every queued operation has finished.
    package func synchronize() {
        driver.makeCurrent(handle)
        driver.synchronize(stream)
    }

    /// Device buffers cached for reuse (elements) and `cuMemAlloc` calls so far.
    package var allocatorStatistics: (cachedElements: Int, systemAllocations: Int) {
        (allocator.cachedElements, allocator.systemAllocations)
    }

    /// Returns cached device buffers to the driver (after the queued work has finished).
    package func trimCache() {
        synchronize()
        allocator.trim()
    }

    // MARK: kernels

    /// The kernel `name` of the module built from `ptx`; each module is loaded once per process.
    /// Looking up a function again with the same PTX string costs a dictionary lookup by name (the
    /// PTX comparison is by identity of the string's storage when it is the same string).
    package func function(named name: String, ptx: String) throws -> CUDAFunction {
        if let hit = functions.withLock({ $0[name]?.first(where: { $0.ptx == ptx })?.function }) {
            return CUDAFunction(name: name, handle: OpaquePointer(bitPattern: hit)!, context: self)
        }
        driver.makeCurrent(handle)
        let module: OpaquePointer
        if let loaded = modules.withLock({ $0[ptx] }) {
            module = OpaquePointer(bitPattern: loaded)!
        } else {
            module = try driver.loadModule(ptx: ptx)
            modules.withLock { $0[ptx] = UInt(bitPattern: module) }
        }
        let function = try driver.function(module, named: name)
        functions.withLock { $0[name, default: []].append((ptx, UInt(bitPattern: function))) }
        return CUDAFunction(name: name, handle: function, context: self)
    }

    /// Uploads `values` into a scratch area and returns its device address, for small host arrays
    /// a kernel reads (labels, indices, shapes and strides). The area stays valid for the next
    /// launch: scratch is a ring at least 8 times larger than any one upload, reused in stream order.
    package func temporaryUpload(_ values: [Int32]) -> UInt64 {
        let bytes = max(values.count, 1) * 4
        let address: UInt64 = scratch.withLock { ring in
            let (address, replaced) = ring.reserve(bytes: bytes) { self.allocate($0) }
            _ = replaced  // the replaced storage is released here, after its queued readers in stream order
            return address
        }
        values.withUnsafeBytes { upload($0.baseAddress!, bytes: values.count * 4, to: address) }
        return address
    }
}

/// A ring of device scratch memory for `temporaryUpload`: areas are handed out in order and the
/// ring wraps to its start when full. The buffer grows (to 8× the request at least) when a request
/// is larger than an eighth of it, so the last 8 uploads are never overwritten by the next one.
package struct ScratchRing {
    private var storage: Storage?
    private var used = 0

    package init() {}

    /// The address of `bytes` of scratch (256-byte aligned), and the storage it replaced, if any.
    /// `allocate(count)` gives device storage for `count` Float32 elements (at least 1 MiB).
    package mutating func reserve(bytes: Int, allocate: (Int) -> Storage) -> (UInt64, Storage?) {
        let size = (bytes + 255) & ~255
        var replaced: Storage?
        if storage == nil || size * 8 > storage!.capacity * 4 {
            replaced = storage
            storage = allocate(max(1 << 20, size * 8) / 4)
            used = 0
        }
        if used + size > storage!.capacity * 4 { used = 0 }
        defer { used += size }
        return (storage!.deviceAddress + UInt64(used), replaced)
    }
}
