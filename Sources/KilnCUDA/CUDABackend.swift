#if canImport(Glibc)
import Glibc
#endif
import KilnCompute
import Synchronization

/// The CUDA backend: every `Backend` op as NVRTC-compiled kernels (`Kernels/`) and cuBLAS products
/// on one device's primary context. Kernels compile on first use (once per process) for the
/// device's architecture; launches go to the context's stream in call order, so an op's inputs
/// are always complete when its kernels run.
package struct CUDABackend: Backend {
    package let context: CUDAContext
    private let kernels: KernelCache

    /// A backend on `context`'s device, compiling with `nvrtc` for the device's architecture.
    package init(context: CUDAContext, nvrtc: NVRTC) {
        self.context = context
        self.kernels = KernelCache(nvrtc: nvrtc, context: context)
    }

    /// A backend on `context`'s device with NVRTC from where `CUDA.status` found it.
    package init(context: CUDAContext) throws {
        guard let path = CUDA.nvrtcPath else { throw NVRTCError.libraryNotLoaded(path: "libnvrtc", reason: "not found") }
        self.init(context: context, nvrtc: try NVRTC(path: path))
    }

    package var device: Device { .cuda(context.ordinal) }

    package func allocate(_ count: Int) -> Storage { context.allocate(count) }

    package func gemm(_ p: GemmProblem) {
        precondition(p.m < Int32.max && p.n < Int32.max && p.k < Int32.max, "gemm: dimension exceeds Int32")
        context.blas.gemm(p)
    }

    /// The compiled kernel `entry` of `source`.
    func kernel(_ source: KernelSource, _ entry: String) -> CUDAFunction { kernels.function(source, entry) }

    /// Launches `entry` with one thread per element of `count` (grid-stride loops inside).
    func launch(_ source: KernelSource, _ entry: String, count: Int, _ arguments: [KernelArgument]) {
        guard count > 0 else { return }
        let blocks = min((count + 255) / 256, 8192)
        kernel(source, entry).launch(grid: (blocks, 1, 1), block: (256, 1, 1), arguments)
    }

    /// Launches `entry` with one block per row (grid-stride over rows), the block sized to `cols`.
    func launchRows(_ source: KernelSource, _ entry: String, rows: Int, cols: Int, _ arguments: [KernelArgument]) {
        guard rows > 0 else { return }
        kernel(source, entry).launch(grid: (min(rows, 1 << 20), 1, 1), block: (rowBlock(cols), 1, 1), arguments)
    }
}

/// Threads per block for a row of `cols` elements: a multiple of 32 (the reductions need it).
func rowBlock(_ cols: Int) -> Int {
    cols <= 32 ? 32 : cols <= 64 ? 64 : cols <= 128 ? 128 : cols <= 2048 ? 256 : 512
}

/// The device address of element `offset` of `storage`.
@inline(__always)
func address(_ storage: Storage, _ offset: Int = 0) -> UInt64 {
    storage.deviceAddress + UInt64(offset * MemoryLayout<Float>.stride)
}

/// The device address of a view's first element (any layout).
@inline(__always)
func address(_ view: StridedView) -> UInt64 { address(view.storage, view.layout.offset) }

/// A pointer argument for an optional view or storage (null when absent).
@inline(__always)
func optional(_ view: StridedView?) -> KernelArgument { .pointer(view.map { $0.deviceStart } ?? 0) }
@inline(__always)
func optional(_ storage: Storage?) -> KernelArgument { .pointer(storage.map { $0.deviceAddress } ?? 0) }

/// `cuModuleLoadData`: loads a CUBIN image into the current context.
private typealias ModuleLoadDataFn = @convention(c) (UnsafeMutablePointer<OpaquePointer?>, UnsafeRawPointer) -> Int32

/// Compiled kernels by entry name. Each source compiles once per process to a CUBIN for the
/// device's exact architecture (`sm_XY`) and loads as one module.
///
/// NOTE: CUBIN rather than PTX: PTX carries the ISA version of the NVRTC that wrote it, and a
/// driver older than that NVRTC (e.g. CUDA 13.0's driver with NVRTC 13.2 from a newer wheel)
/// rejects it, while a CUBIN loads on every driver of its CUDA major version. Without
/// `cuModuleLoadData` the PTX path (the context's JIT loader) is used.
final class KernelCache: @unchecked Sendable {
    private let nvrtc: NVRTC
    private let context: CUDAContext
    private let loadImage: ModuleLoadDataFn?
    /// Loaded modules by source name (as integers: `OpaquePointer` is not `Sendable`).
    private let modules = Mutex<[String: UInt]>([:])
    private let functions = Mutex<[String: CUDAFunction]>([:])

    init(nvrtc: NVRTC, context: CUDAContext) {
        self.nvrtc = nvrtc
        self.context = context
        let driver = CUDA.status.report(.driver)?.handle
        loadImage = driver.flatMap { dlsym($0, "cuModuleLoadData") }.map { unsafeBitCast($0, to: ModuleLoadDataFn.self) }
    }

    func function(_ source: KernelSource, _ entry: String) -> CUDAFunction {
        if let hit = functions.withLock({ $0[entry] }) { return hit }
        do {
            let f: CUDAFunction
            if let loadImage {
                let module = try self.module(source, loadImage)
                f = CUDAFunction(name: entry, handle: try context.driver.function(module, named: entry), context: context)
            } else {
                let ptx = try nvrtc.compile(source.source, name: source.name, architecture: context.architecture)
                f = try context.function(named: entry, ptx: ptx)
            }
            functions.withLock { $0[entry] = f }
            return f
        } catch {
            // The sources are part of Kiln and checked by the kernel compile test: a failure here
            // is a broken installation (driver, NVRTC), not bad input.
            preconditionFailure("CUDA kernel \(entry) (\(source.name)): \(error)")
        }
    }

    /// The loaded module of `source`'s CUBIN.
    private func module(_ source: KernelSource, _ loadImage: ModuleLoadDataFn) throws -> OpaquePointer {
        if let hit = modules.withLock({ $0[source.name] }) { return OpaquePointer(bitPattern: hit)! }
        let (major, minor) = context.computeCapability
        let image = try nvrtc.compileBinary(source.source, name: source.name, architecture: "sm_\(major)\(minor)")
        context.driver.makeCurrent(context.handle)
        var module: OpaquePointer?
        try context.driver.check(image.withUnsafeBytes { loadImage(&module, $0.baseAddress!) },
                                 "cuModuleLoadData(\(source.name), \(image.count) bytes of sm_\(major)\(minor) code)")
        let address = UInt(bitPattern: module)
        modules.withLock { $0[source.name] = address }
        return module!
    }
}
