#if canImport(Glibc)
import Glibc
#endif

/// Why CUDA cannot be used, or a CUDA call that failed.
public enum CUDAError: Error, CustomStringConvertible {
    /// CUDA is not usable on this machine; the text is `CUDA.status`'s explanation.
    case unavailable(String)
    /// A driver or cuBLAS call returned an error.
    case call(String, code: Int32, message: String)
    /// A library lacks an entry point Kiln needs.
    case missingSymbol(library: String, symbol: String)
    /// The device ordinal does not exist.
    case noSuchDevice(Int, count: Int)

    /// The message for people.
    public var description: String {
        switch self {
        case .unavailable(let why): "CUDA is not available: \(why)"
        case let .call(name, code, message): "CUDA: \(name) failed with \(code) (\(message))"
        case let .missingSymbol(library, symbol): "CUDA: \(library) has no symbol \(symbol)"
        case let .noSuchDevice(n, count): "CUDA: no device cuda:\(n) (this machine has \(count))"
        }
    }
}

/// Looks up `name` in `handle` as a C function of type `F`.
func symbol<F>(_ handle: UnsafeMutableRawPointer, _ name: String, in library: String, as _: F.Type) throws -> F {
    guard let s = dlsym(handle, name) else { throw CUDAError.missingSymbol(library: library, symbol: name) }
    return unsafeBitCast(s, to: F.self)
}

// Driver API types (cuda.h): CUresult is an int enum; CUdevice an int; CUdeviceptr a 64-bit
// integer; CUcontext, CUmodule, CUfunction, CUstream opaque pointers.
typealias CUresult = Int32
typealias CUdeviceptr = UInt64
typealias Ptr = OpaquePointer
private typealias IntOutFn = @convention(c) (UnsafeMutablePointer<Int32>) -> CUresult
private typealias InitFn = @convention(c) (UInt32) -> CUresult
private typealias DeviceGetFn = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> CUresult
private typealias DeviceNameFn = @convention(c) (UnsafeMutablePointer<CChar>, Int32, Int32) -> CUresult
private typealias TotalMemFn = @convention(c) (UnsafeMutablePointer<Int>, Int32) -> CUresult
private typealias AttributeFn = @convention(c) (UnsafeMutablePointer<Int32>, Int32, Int32) -> CUresult
private typealias RetainFn = @convention(c) (UnsafeMutablePointer<Ptr?>, Int32) -> CUresult
private typealias PtrFn = @convention(c) (Ptr?) -> CUresult
private typealias PtrOutFn = @convention(c) (UnsafeMutablePointer<Ptr?>) -> CUresult
private typealias MemGetInfoFn = @convention(c) (UnsafeMutablePointer<Int>, UnsafeMutablePointer<Int>) -> CUresult
private typealias AllocFn = @convention(c) (UnsafeMutablePointer<CUdeviceptr>, Int) -> CUresult
private typealias FreeFn = @convention(c) (CUdeviceptr) -> CUresult
private typealias HtoDFn = @convention(c) (CUdeviceptr, UnsafeRawPointer, Int, Ptr?) -> CUresult
private typealias DtoHFn = @convention(c) (UnsafeMutableRawPointer, CUdeviceptr, Int, Ptr?) -> CUresult
private typealias DtoDFn = @convention(c) (CUdeviceptr, CUdeviceptr, Int, Ptr?) -> CUresult
private typealias MemsetFn = @convention(c) (CUdeviceptr, UInt32, Int, Ptr?) -> CUresult
private typealias LoadDataExFn = @convention(c) (
    UnsafeMutablePointer<Ptr?>, UnsafeRawPointer, UInt32, UnsafeMutablePointer<Int32>?,
    UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> CUresult
private typealias GetFunctionFn = @convention(c) (UnsafeMutablePointer<Ptr?>, Ptr?, UnsafePointer<CChar>) -> CUresult
typealias LaunchFn = @convention(c) (
    Ptr?, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, Ptr?,
    UnsafeMutablePointer<UnsafeMutableRawPointer?>?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> CUresult
private typealias StreamCreateFn = @convention(c) (UnsafeMutablePointer<Ptr?>, UInt32) -> CUresult
private typealias ErrorTextFn = @convention(c) (CUresult, UnsafeMutablePointer<UnsafePointer<CChar>?>) -> CUresult

/// The driver API entry points Kiln uses (`libcuda.so.1`, `_v2` variants where cuda.h maps the
/// plain names to them). All calls go through `check`, which turns an error code into `CUDAError`.
final class CUDADriver: @unchecked Sendable {
    private let initFn: InitFn
    private let driverVersion: IntOutFn, deviceCount: IntOutFn
    private let deviceGet: DeviceGetFn, deviceName: DeviceNameFn, totalMem: TotalMemFn, attribute: AttributeFn
    private let primaryRetain: RetainFn
    private let ctxSetCurrent: PtrFn, ctxGetCurrent: PtrOutFn
    private let memGetInfo: MemGetInfoFn
    private let memAlloc: AllocFn, memFree: FreeFn
    private let htod: HtoDFn, dtoh: DtoHFn, dtod: DtoDFn, memsetD32: MemsetFn
    private let loadDataEx: LoadDataExFn, getFunction: GetFunctionFn
    let launchKernel: LaunchFn
    private let streamCreate: StreamCreateFn, streamSynchronize: PtrFn
    private let errorName: ErrorTextFn, errorString: ErrorTextFn

    init(handle h: UnsafeMutableRawPointer) throws {
        let lib = "libcuda.so.1"
        initFn = try symbol(h, "cuInit", in: lib, as: InitFn.self)
        driverVersion = try symbol(h, "cuDriverGetVersion", in: lib, as: IntOutFn.self)
        deviceCount = try symbol(h, "cuDeviceGetCount", in: lib, as: IntOutFn.self)
        deviceGet = try symbol(h, "cuDeviceGet", in: lib, as: DeviceGetFn.self)
        deviceName = try symbol(h, "cuDeviceGetName", in: lib, as: DeviceNameFn.self)
        totalMem = try symbol(h, "cuDeviceTotalMem_v2", in: lib, as: TotalMemFn.self)
        attribute = try symbol(h, "cuDeviceGetAttribute", in: lib, as: AttributeFn.self)
        primaryRetain = try symbol(h, "cuDevicePrimaryCtxRetain", in: lib, as: RetainFn.self)
        ctxSetCurrent = try symbol(h, "cuCtxSetCurrent", in: lib, as: PtrFn.self)
        ctxGetCurrent = try symbol(h, "cuCtxGetCurrent", in: lib, as: PtrOutFn.self)
        memGetInfo = try symbol(h, "cuMemGetInfo_v2", in: lib, as: MemGetInfoFn.self)
        memAlloc = try symbol(h, "cuMemAlloc_v2", in: lib, as: AllocFn.self)
        memFree = try symbol(h, "cuMemFree_v2", in: lib, as: FreeFn.self)
        htod = try symbol(h, "cuMemcpyHtoDAsync_v2", in: lib, as: HtoDFn.self)
        dtoh = try symbol(h, "cuMemcpyDtoHAsync_v2", in: lib, as: DtoHFn.self)
        dtod = try symbol(h, "cuMemcpyDtoDAsync_v2", in: lib, as: DtoDFn.self)
        memsetD32 = try symbol(h, "cuMemsetD32Async", in: lib, as: MemsetFn.self)
        loadDataEx = try symbol(h, "cuModuleLoadDataEx", in: lib, as: LoadDataExFn.self)
        getFunction = try symbol(h, "cuModuleGetFunction", in: lib, as: GetFunctionFn.self)
        launchKernel = try symbol(h, "cuLaunchKernel", in: lib, as: LaunchFn.self)
        streamCreate = try symbol(h, "cuStreamCreate", in: lib, as: StreamCreateFn.self)
        streamSynchronize = try symbol(h, "cuStreamSynchronize", in: lib, as: PtrFn.self)
        errorName = try symbol(h, "cuGetErrorName", in: lib, as: ErrorTextFn.self)
        errorString = try symbol(h, "cuGetErrorString", in: lib, as: ErrorTextFn.self)
    }

    /// `NAME: description` of a driver error code.
    func message(_ code: CUresult) -> String {
        var name: UnsafePointer<CChar>?, text: UnsafePointer<CChar>?
        _ = errorName(code, &name)
        _ = errorString(code, &text)
        return [name, text].compactMap { $0.map { String(cString: $0) } }.joined(separator: ": ")
    }

    func check(_ code: CUresult, _ call: @autoclosure () -> String) throws {
        guard code != 0 else { return }
        throw CUDAError.call(call(), code: code, message: message(code))
    }

    /// For calls whose failure is a programming error or a lost device: stops with the message.
    func require(_ code: CUresult, _ call: @autoclosure () -> String) {
        guard code != 0 else { return }
        preconditionFailure(CUDAError.call(call(), code: code, message: message(code)).description)
    }

    // MARK: device queries

    func initialize() throws { try check(initFn(0), "cuInit") }

    /// The CUDA version the driver supports, e.g. 13000 for 13.0.
    func version() throws -> Int {
        var v: Int32 = 0
        try check(driverVersion(&v), "cuDriverGetVersion")
        return Int(v)
    }

    func count() throws -> Int {
        var n: Int32 = 0
        try check(deviceCount(&n), "cuDeviceGetCount")
        return Int(n)
    }

    func device(_ ordinal: Int) throws -> Int32 {
        var d: Int32 = 0
        try check(deviceGet(&d, Int32(ordinal)), "cuDeviceGet(\(ordinal))")
        return d
    }

    func name(_ device: Int32) throws -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        try check(deviceName(&buffer, 255, device), "cuDeviceGetName")
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func totalMemory(_ device: Int32) throws -> Int {
        var bytes = 0
        try check(totalMem(&bytes, device), "cuDeviceTotalMem_v2")
        return bytes
    }

    /// (major, minor) compute capability (attributes 75 and 76 of cuda.h's CUdevice_attribute).
    func computeCapability(_ device: Int32) throws -> (major: Int, minor: Int) {
        var major: Int32 = 0, minor: Int32 = 0
        try check(attribute(&major, 75, device), "cuDeviceGetAttribute(COMPUTE_CAPABILITY_MAJOR)")
        try check(attribute(&minor, 76, device), "cuDeviceGetAttribute(COMPUTE_CAPABILITY_MINOR)")
        return (Int(major), Int(minor))
    }

    // MARK: contexts, memory, streams

    func retainPrimaryContext(_ device: Int32) throws -> Ptr {
        var context: Ptr?
        try check(primaryRetain(&context, device), "cuDevicePrimaryCtxRetain")
        return context!
    }

    /// Makes `context` current on the calling thread unless it already is.
    func makeCurrent(_ context: Ptr) {
        var current: Ptr?
        if ctxGetCurrent(&current) == 0, current == context { return }
        require(ctxSetCurrent(context), "cuCtxSetCurrent")
    }

    /// (free, total) bytes of the current context's device.
    func memoryInfo() throws -> (free: Int, total: Int) {
        var free = 0, total = 0
        try check(memGetInfo(&free, &total), "cuMemGetInfo_v2")
        return (free, total)
    }

    /// Device memory, or the driver's error code (e.g. 2, CUDA_ERROR_OUT_OF_MEMORY).
    func allocate(bytes: Int) -> Result<CUdeviceptr, CUDAError> {
        var address: CUdeviceptr = 0
        let code = memAlloc(&address, bytes)
        if code == 0 { return .success(address) }
        return .failure(.call("cuMemAlloc_v2(\(bytes) bytes)", code: code, message: message(code)))
    }

    func free(_ address: CUdeviceptr) { require(memFree(address), "cuMemFree_v2") }

    func copyToDevice(_ dst: CUdeviceptr, _ src: UnsafeRawPointer, bytes: Int, stream: Ptr?) {
        require(htod(dst, src, bytes, stream), "cuMemcpyHtoDAsync_v2(\(bytes) bytes)")
    }

    func copyToHost(_ dst: UnsafeMutableRawPointer, _ src: CUdeviceptr, bytes: Int, stream: Ptr?) {
        require(dtoh(dst, src, bytes, stream), "cuMemcpyDtoHAsync_v2(\(bytes) bytes)")
    }

    func copyOnDevice(_ dst: CUdeviceptr, _ src: CUdeviceptr, bytes: Int, stream: Ptr?) {
        require(dtod(dst, src, bytes, stream), "cuMemcpyDtoDAsync_v2(\(bytes) bytes)")
    }

    func fill32(_ dst: CUdeviceptr, value: UInt32, count: Int, stream: Ptr?) {
        require(memsetD32(dst, value, count, stream), "cuMemsetD32Async(\(count) words)")
    }

    func createStream() throws -> Ptr {
        var stream: Ptr?
        try check(streamCreate(&stream, 0), "cuStreamCreate")
        return stream!
    }

    func synchronize(_ stream: Ptr?) { require(streamSynchronize(stream), "cuStreamSynchronize") }

    /// Waits for `stream` and returns the driver's code (an earlier kernel's fault shows here).
    func synchronizeResult(_ stream: Ptr?) -> CUresult { streamSynchronize(stream) }

    // MARK: modules

    /// Loads a PTX module (JIT-compiled by the driver for the current device); on failure the
    /// error carries the JIT's log.
    func loadModule(ptx: String) throws -> Ptr {
        var module: Ptr?
        let logSize = 8192
        var log = [CChar](repeating: 0, count: logSize)
        let code: CUresult = log.withUnsafeMutableBufferPointer { logBuffer in
            // CU_JIT_ERROR_LOG_BUFFER = 5, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6; option values are
            // passed as pointers (the size as an integer in pointer form).
            var options: [Int32] = [5, 6]
            var values: [UnsafeMutableRawPointer?] = [UnsafeMutableRawPointer(logBuffer.baseAddress),
                                                      UnsafeMutableRawPointer(bitPattern: logSize)]
            return ptx.withCString { text in loadDataEx(&module, text, 2, &options, &values) }
        }
        if code != 0 {
            let jitLog = String(decoding: log.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw CUDAError.call("cuModuleLoadDataEx", code: code, message: message(code) + (jitLog.isEmpty ? "" : "\n" + jitLog))
        }
        return module!
    }

    func function(_ module: Ptr, named name: String) throws -> Ptr {
        var function: Ptr?
        try check(getFunction(&function, module, name), "cuModuleGetFunction(\(name))")
        return function!
    }
}
