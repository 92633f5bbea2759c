#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Why a kernel could not be compiled.
package enum NVRTCError: Error, CustomStringConvertible {
    /// `dlopen` failed (`reason` is `dlerror()`'s text).
    case libraryNotLoaded(path: String, reason: String)
    /// The library lacks an entry point Kiln needs.
    case missingSymbol(path: String, symbol: String)
    /// An NVRTC call other than the compilation failed.
    case call(String, code: Int32, message: String)
    /// The source did not compile; `log` is NVRTC's program log.
    case compilation(kernel: String, options: [String], log: String)

    package var description: String {
        switch self {
        case let .libraryNotLoaded(path, reason): "NVRTC: cannot load \(path): \(reason)"
        case let .missingSymbol(path, symbol): "NVRTC: \(path) has no symbol \(symbol)"
        case let .call(name, code, message): "NVRTC: \(name) failed with \(code) (\(message))"
        case let .compilation(kernel, options, log):
            "NVRTC: kernel source '\(kernel)' does not compile with \(options.joined(separator: " ")):\n\(log)"
        }
    }
}

// The C signatures (nvrtc.h); `nvrtcProgram` is an opaque pointer, results are `int` enums.
private typealias VersionFn = @convention(c) (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>) -> Int32
private typealias CreateFn = @convention(c) (
    UnsafeMutablePointer<OpaquePointer?>, UnsafePointer<CChar>, UnsafePointer<CChar>, Int32,
    UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<UnsafePointer<CChar>?>?) -> Int32
private typealias CompileFn = @convention(c) (OpaquePointer?, Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> Int32
private typealias SizeFn = @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int>) -> Int32
private typealias TextFn = @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>) -> Int32
private typealias DestroyFn = @convention(c) (UnsafeMutablePointer<OpaquePointer?>) -> Int32
private typealias ErrorStringFn = @convention(c) (Int32) -> UnsafePointer<CChar>?

/// NVRTC, loaded with `dlopen`: compiles CUDA C source strings to PTX. Needs no GPU, so kernel
/// sources can be checked on any machine that has the library (e.g. from the PyPI wheel
/// `nvidia-cuda-nvrtc-cu12`).
///
/// Compilations are cached per process, keyed by source and options: each kernel source is
/// compiled once however many ops use it.
package final class NVRTC: @unchecked Sendable {
    /// The library file that was loaded.
    package let path: String
    private let handle: UnsafeMutableRawPointer
    private let versionFn: VersionFn
    private let create: CreateFn
    private let compileFn: CompileFn
    private let logSize: SizeFn, log: TextFn
    private let ptxSize: SizeFn, ptx: TextFn
    private let cubinSize: SizeFn, cubin: TextFn
    private let destroy: DestroyFn
    private let errorString: ErrorStringFn
    /// Compiled code (PTX text or CUBIN bytes) by `source + options`.
    private let cache = Mutex<[String: [UInt8]]>([:])

    /// Loads NVRTC from `path` (a file, or a soname the system loader resolves).
    package init(path: String) throws {
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            throw NVRTCError.libraryNotLoaded(path: path, reason: dlerror().map { String(cString: $0) } ?? "unknown error")
        }
        func symbol<F>(_ name: String, as _: F.Type) throws -> F {
            guard let s = dlsym(handle, name) else { throw NVRTCError.missingSymbol(path: path, symbol: name) }
            return unsafeBitCast(s, to: F.self)
        }
        do {
            versionFn = try symbol("nvrtcVersion", as: VersionFn.self)
            create = try symbol("nvrtcCreateProgram", as: CreateFn.self)
            compileFn = try symbol("nvrtcCompileProgram", as: CompileFn.self)
            logSize = try symbol("nvrtcGetProgramLogSize", as: SizeFn.self)
            log = try symbol("nvrtcGetProgramLog", as: TextFn.self)
            ptxSize = try symbol("nvrtcGetPTXSize", as: SizeFn.self)
            ptx = try symbol("nvrtcGetPTX", as: TextFn.self)
            cubinSize = try symbol("nvrtcGetCUBINSize", as: SizeFn.self)
            cubin = try symbol("nvrtcGetCUBIN", as: TextFn.self)
            destroy = try symbol("nvrtcDestroyProgram", as: DestroyFn.self)
            errorString = try symbol("nvrtcGetErrorString", as: ErrorStringFn.self)
        } catch {
            dlclose(handle)
            throw error
        }
        self.path = path
        self.handle = handle
    }

    /// NVRTC's version as (major, minor), e.g. (12, 9).
    package var version: (major: Int, minor: Int) {
        var major: Int32 = 0, minor: Int32 = 0
        _ = versionFn(&major, &minor)
        return (Int(major), Int(minor))
    }

    /// The options of a compilation for `architecture` (e.g. `compute_90`). Fast math is off: the
    /// kernels must agree with the CPU backend's to a few ulps.
    package static func options(architecture: String) -> [String] {
        ["--gpu-architecture=\(architecture)", "-default-device", "--std=c++17"]
    }

    /// The PTX of `source` (named `name` in errors) for a virtual architecture (`compute_90`),
    /// compiled once per process for these options.
    package func compile(_ source: String, name: String, architecture: String = "compute_90",
                         extraOptions: [String] = []) throws -> String {
        let text = try cached(source, name: name, options: Self.options(architecture: architecture) + extraOptions, binary: false)
        return String(decoding: text, as: UTF8.self)
    }

    /// The CUBIN (device code for one real architecture, `sm_90`) of `source`, compiled once per
    /// process. Unlike PTX, which a driver older than NVRTC rejects, a CUBIN loads on any driver of
    /// the same CUDA major version.
    package func compileBinary(_ source: String, name: String, architecture: String = "sm_90",
                               extraOptions: [String] = []) throws -> [UInt8] {
        try cached(source, name: name, options: Self.options(architecture: architecture) + extraOptions, binary: true)
    }

    private func cached(_ source: String, name: String, options: [String], binary: Bool) throws -> [UInt8] {
        let key = (binary ? "cubin " : "ptx ") + options.joined(separator: " ") + "\n" + source
        if let hit = cache.withLock({ $0[key] }) { return hit }
        let result = try compileUncached(source, name: name, options: options, binary: binary)
        cache.withLock { $0[key] = result }
        return result
    }

    private func check(_ code: Int32, _ call: String) throws {
        guard code != 0 else { return }
        let message = errorString(code).map { String(cString: $0) } ?? "unknown"
        throw NVRTCError.call(call, code: code, message: message)
    }

    private func compileUncached(_ source: String, name: String, options: [String], binary: Bool) throws -> [UInt8] {
        var program: OpaquePointer?
        try check(create(&program, source, name + ".cu", 0, nil, nil), "nvrtcCreateProgram")
        defer { _ = destroy(&program) }
        let cOptions = options.map { strdup($0) }
        defer { cOptions.forEach { free($0) } }
        let status = cOptions.map { UnsafePointer<CChar>($0) }.withUnsafeBufferPointer {
            compileFn(program, Int32($0.count), $0.baseAddress)
        }
        if status != 0 {
            throw NVRTCError.compilation(kernel: name, options: options, log: programLog(program))
        }
        var size = 0
        try check((binary ? cubinSize : ptxSize)(program, &size), binary ? "nvrtcGetCUBINSize" : "nvrtcGetPTXSize")
        var bytes = [CChar](repeating: 0, count: max(size, 1))
        try check((binary ? cubin : ptx)(program, &bytes), binary ? "nvrtcGetCUBIN" : "nvrtcGetPTX")
        // PTX is NUL-terminated text; a CUBIN is `size` bytes of ELF.
        let code = binary ? bytes.prefix(size) : bytes.prefix { $0 != 0 }
        return code.map { UInt8(bitPattern: $0) }
    }

    private func programLog(_ program: OpaquePointer?) -> String {
        var size = 0
        guard logSize(program, &size) == 0, size > 1 else { return "(no log)" }
        var bytes = [CChar](repeating: 0, count: size)
        guard log(program, &bytes) == 0 else { return "(log unavailable)" }
        return String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit { dlclose(handle) }
}
