import KilnCompute
import Synchronization

/// The CUDA backend: every `Backend` op as NVRTC-compiled kernels (`Kernels/`) and cuBLAS products
/// on one device's primary context. Kernels compile on first use (once per process) for the
/// device's architecture; launches go to the context's stream in call order, so an op's inputs
/// are always complete when its kernels run.
package struct CUDABackend: Backend {
    package let context: CUDAContext
    private let kernels: KernelCache

    /// A backend on `context`'s device, compiling with `nvrtc` for `architecture` (e.g. `compute_90`).
    package init(context: CUDAContext, nvrtc: NVRTC, architecture: String) {
        self.context = context
        self.kernels = KernelCache(nvrtc: nvrtc, architecture: architecture, context: context)
    }

    /// A backend on `context`'s device with NVRTC from where `CUDA.status` found it, compiling for
    /// the device's architecture.
    package init(context: CUDAContext) throws {
        guard let path = CUDA.nvrtcPath else { throw NVRTCError.libraryNotLoaded(path: "libnvrtc", reason: "not found") }
        self.init(context: context, nvrtc: try NVRTC(path: path), architecture: context.architecture)
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

/// Compiled kernels by entry name. A source compiles to PTX once per process (NVRTC's cache) and
/// loads as one module (the context's cache, keyed by PTX text).
final class KernelCache: @unchecked Sendable {
    private let nvrtc: NVRTC
    private let architecture: String
    private let context: CUDAContext
    private let functions = Mutex<[String: CUDAFunction]>([:])

    init(nvrtc: NVRTC, architecture: String, context: CUDAContext) {
        self.nvrtc = nvrtc
        self.architecture = architecture
        self.context = context
    }

    func function(_ source: KernelSource, _ entry: String) -> CUDAFunction {
        if let hit = functions.withLock({ $0[entry] }) { return hit }
        do {
            let ptx = try nvrtc.compile(source.source, name: source.name, architecture: architecture)
            let f = try context.function(named: entry, ptx: ptx)
            functions.withLock { $0[entry] = f }
            return f
        } catch {
            // The sources are part of Kiln and checked by the kernel compile test: a failure here
            // is a broken build or driver, not bad input.
            preconditionFailure("CUDA kernel \(entry) (\(source.name)): \(error)")
        }
    }
}
