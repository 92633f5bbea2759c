import KilnCompute
import Synchronization

/// Whether CUDA can be used, and why not. Nothing is loaded until one of these is used.
///
/// ```swift
/// import KilnCUDA
/// try CUDA.activate()                 // throws CUDAError.unavailable with the reasons
/// let x = Tensor.randn([64, 64]).to(.cuda(0))
/// ```
public enum CUDA {
    /// What was found at first use (libraries, driver version, devices, or what is missing and why).
    public static var status: CUDAStatus { probe.status }

    /// True when the driver, cuBLAS and NVRTC are loaded and a device exists.
    public static var isAvailable: Bool { status.isAvailable }

    /// Loads the libraries, creates the primary context of `device` with Kiln's stream, cuBLAS
    /// handle and caching allocator, and registers the CUDA backend, so tensors on `.cuda(device)`
    /// run there. Activating the device that is already active does nothing; a process uses one
    /// device (activating another throws).
    /// - Throws: `CUDAError.unavailable` with the status message when CUDA cannot be used, or
    ///   `CUDAError.noSuchDevice`.
    public static func activate(device: Int = 0) throws {
        try activation.withLock { active in
            if active == device { return }
            // One backend serves every `.cuda(N)` tensor, so a process uses one device.
            if let active { throw CUDAError.unavailable("cuda:\(active) is already active; Kiln uses one CUDA device per process") }
            let probe = Self.probe
            guard let driver = probe.driver, probe.status.isAvailable,
                  let cublas = probe.status.report(.cublas), let handle = cublas.handle, let path = cublas.path else {
                throw CUDAError.unavailable((probe.status.problem ?? "unknown reason") + "\n" + probe.status.details)
            }
            guard device >= 0 && device < probe.status.devices.count else {
                throw CUDAError.noSuchDevice(device, count: probe.status.devices.count)
            }
            let context = try CUDAContext(driver: driver, ordinal: device, cublas: (handle, path),
                                          environment: processEnvironment())
            CUDAContext.setCurrent(context)
            BackendRegistry.cuda = try CUDABackend(context: context)
            active = device
        }
    }

    /// Whether cuBLAS may use TF32 tensor cores for Float32 products (faster, ~3 decimal digits).
    /// Off unless `KILN_CUDA_TF32=1`; applies to the active context.
    public static func allowTF32(_ allowed: Bool) throws {
        try CUDAContext.current().blas.setTF32(allowed)
    }

    /// The path of the NVRTC library that was found (for the kernel compiler).
    package static var nvrtcPath: String? { status.report(.nvrtc)?.path }

    private static let activation = Mutex<Int?>(nil)
    private static let probeOnce = CUDAProbe(environment: processEnvironment())
    private static var probe: CUDAProbe { probeOnce }
}

extension CUDAStatus {
    /// The status for an environment other than the process's (library search variables), without
    /// caching: what `CUDA.status` would say in a process started with `environment`.
    package static func probe(environment: [String: String]) -> CUDAStatus {
        CUDAProbe(environment: environment).status
    }
}

extension CUDABackend {
    /// Waits for the context's stream.
    package func synchronize() { context.synchronize() }
}
