/// What Kiln found of CUDA on this machine: the libraries (where each was found, or every place it
/// was looked for and why it failed), the driver's version and the devices.
public struct CUDAStatus: Sendable, CustomStringConvertible {
    /// One GPU as the driver reports it.
    public struct DeviceInfo: Sendable {
        /// The device ordinal (`Device.cuda(ordinal)`).
        public var ordinal: Int
        /// The product name, e.g. "NVIDIA H200".
        public var name: String
        /// Total device memory in bytes.
        public var totalMemory: Int
        /// Compute capability (major, minor).
        public var computeCapability: (major: Int, minor: Int)
    }

    /// The CUDA version the driver supports (e.g. 13000 for 13.0), when the driver loaded.
    public var driverVersion: Int?
    /// The devices found (empty without a driver).
    public var devices: [DeviceInfo]
    /// Why CUDA cannot be used; nil when it can.
    public var problem: String?
    /// The search for each library.
    package var libraries: [LibraryReport]

    /// True when the driver, cuBLAS and NVRTC loaded and there is at least one device.
    public var isAvailable: Bool { problem == nil }

    /// `13.0` for 13000.
    public var driverVersionText: String? {
        driverVersion.map { "\($0 / 1000).\($0 % 1000 / 10)" }
    }

    package func report(_ library: CUDALibrary) -> LibraryReport? { libraries.first { $0.library == library } }

    /// A few lines for `kiln info` and error messages: the verdict, then `details`.
    public var description: String {
        (problem.map { "not available: \($0)" } ?? "available") + "\n" + details
    }

    /// The driver and devices, then where each library was found, or every place it was looked for
    /// and why it failed there.
    public var details: String {
        var lines: [String] = []
        if let v = driverVersionText { lines.append("driver: CUDA \(v)") }
        for d in devices {
            let gib = Double(d.totalMemory) / Double(1 << 30)
            let memory = (gib * 10).rounded() / 10
            lines.append("cuda:\(d.ordinal): \(d.name), \(memory) GiB, compute capability "
                         + "\(d.computeCapability.major).\(d.computeCapability.minor)")
        }
        lines += libraries.filter { $0.library != .cublasLt || !$0.found }.map(\.summary)
        return lines.joined(separator: "\n")
    }
}

/// Looking for CUDA: loads the libraries and asks the driver about the devices. Loading a library
/// is idempotent (`dlopen` counts references), so probing again is cheap.
struct CUDAProbe {
    var status: CUDAStatus
    var driver: CUDADriver?

    init(environment: [String: String]) {
        status = CUDAStatus(driverVersion: nil, devices: [], problem: nil, libraries: [])
        var problems: [String] = []
        let driverReport = LibraryFinder(environment: environment).load(.driver)
        status.libraries.append(driverReport)
        var maximumMajor: Int?
        if let handle = driverReport.handle {
            do {
                let driver = try CUDADriver(handle: handle)
                try driver.initialize()
                let version = try driver.version()
                status.driverVersion = version
                maximumMajor = version / 1000
                for ordinal in 0..<(try driver.count()) {
                    let device = try driver.device(ordinal)
                    status.devices.append(CUDAStatus.DeviceInfo(
                        ordinal: ordinal, name: try driver.name(device), totalMemory: try driver.totalMemory(device),
                        computeCapability: try driver.computeCapability(device)))
                }
                if status.devices.isEmpty { problems.append("the driver reports no CUDA device") }
                self.driver = driver
            } catch {
                problems.append("the CUDA driver (\(driverReport.path ?? "")) does not work: \(error)")
            }
        } else {
            problems.append("the CUDA driver (libcuda.so.1) was not found")
        }
        // cuBLASLt comes before cuBLAS (which links it) from the same kind of place.
        let finder = LibraryFinder(environment: environment, maximumMajor: maximumMajor)
        for library in [CUDALibrary.cublasLt, .cublas, .nvrtc] {
            let report = finder.load(library)
            status.libraries.append(report)
            if !report.found && library != .cublasLt {
                problems.append("\(library.displayName) (\(library.sonames.joined(separator: " or "))) was not found")
            }
        }
        status.problem = problems.isEmpty ? nil : problems.joined(separator: "; ")
    }
}
