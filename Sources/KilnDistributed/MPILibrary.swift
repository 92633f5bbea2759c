#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Open MPI's C interface, resolved at run time from `libmpi.so.40` with `dlopen`/`dlsym`, so that
/// one `kiln` binary runs with and without MPI installed and `swift build` needs no MPI headers.
///
/// NOTE: the declarations below are Open MPI's ABI (checked against Open MPI 4.1's `mpi.h`), not
/// the MPI standard's: MPICH and Intel MPI use integer handles and are not supported. In Open MPI
/// every handle (`MPI_Comm`, `MPI_Datatype`, `MPI_Op`, `MPI_Errhandler`, `MPI_Request`) is a
/// pointer, and each predefined handle is the address of an exported global: `MPI_COMM_WORLD` is
/// `&ompi_mpi_comm_world`, `MPI_FLOAT` is `&ompi_mpi_float`, `MPI_SUM` is `&ompi_mpi_op_sum`.
/// `MPI_IN_PLACE` is `(void *)1`; `MPI_STATUS_IGNORE` is NULL.
struct MPILibrary: @unchecked Sendable {
    typealias Handle = OpaquePointer
    typealias Buffer = UnsafeMutableRawPointer

    // int MPI_Init_thread(int *argc, char ***argv, int required, int *provided)
    let initThread: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?, Int32,
                                    UnsafeMutablePointer<Int32>) -> Int32
    // int MPI_Initialized(int *flag), MPI_Finalized(int *flag)
    let initialized: @convention(c) (UnsafeMutablePointer<Int32>) -> Int32
    let finalized: @convention(c) (UnsafeMutablePointer<Int32>) -> Int32
    // int MPI_Finalize(void)
    let finalize: @convention(c) () -> Int32
    // int MPI_Comm_rank(MPI_Comm, int *), MPI_Comm_size(MPI_Comm, int *)
    let commRank: @convention(c) (Handle, UnsafeMutablePointer<Int32>) -> Int32
    let commSize: @convention(c) (Handle, UnsafeMutablePointer<Int32>) -> Int32
    // int MPI_Allreduce(const void *send, void *recv, int count, MPI_Datatype, MPI_Op, MPI_Comm)
    let allreduce: @convention(c) (UnsafeRawPointer?, Buffer?, Int32, Handle, Handle, Handle) -> Int32
    // int MPI_Iallreduce(const void *send, void *recv, int count, MPI_Datatype, MPI_Op, MPI_Comm, MPI_Request *)
    let iallreduce: @convention(c) (UnsafeRawPointer?, Buffer?, Int32, Handle, Handle, Handle,
                                    UnsafeMutablePointer<Handle?>) -> Int32
    // int MPI_Wait(MPI_Request *, MPI_Status *)
    let wait: @convention(c) (UnsafeMutablePointer<Handle?>, UnsafeMutableRawPointer?) -> Int32
    // int MPI_Bcast(void *buffer, int count, MPI_Datatype, int root, MPI_Comm)
    let bcast: @convention(c) (Buffer?, Int32, Handle, Int32, Handle) -> Int32
    // int MPI_Barrier(MPI_Comm)
    let barrier: @convention(c) (Handle) -> Int32
    // int MPI_Abort(MPI_Comm, int errorcode)
    let abort: @convention(c) (Handle, Int32) -> Int32
    // int MPI_Comm_set_errhandler(MPI_Comm, MPI_Errhandler)
    let commSetErrhandler: @convention(c) (Handle, Handle) -> Int32
    // int MPI_Get_library_version(char *version, int *resultlen)
    let libraryVersion: @convention(c) (UnsafeMutablePointer<CChar>, UnsafeMutablePointer<Int32>) -> Int32
    // int MPI_Error_string(int errorcode, char *string, int *resultlen)
    let errorString: @convention(c) (Int32, UnsafeMutablePointer<CChar>, UnsafeMutablePointer<Int32>) -> Int32

    /// MPI_COMM_WORLD, MPI_FLOAT, MPI_DOUBLE, MPI_SUM, MPI_MAX, MPI_ERRORS_RETURN.
    let commWorld: Handle
    let float: Handle
    let double: Handle
    let sum: Handle
    let max: Handle
    let errorsReturn: Handle

    /// `MPI_IN_PLACE`: `(void *)1` in Open MPI.
    static var inPlace: UnsafeRawPointer { UnsafeRawPointer(bitPattern: 1)! }
    /// `MPI_SUCCESS`.
    static let success: Int32 = 0
    /// `MPI_THREAD_SERIALIZED`: any thread may call MPI, one at a time.
    static let threadSerialized: Int32 = 2
    /// `MPI_MAX_LIBRARY_VERSION_STRING` and `MPI_MAX_ERROR_STRING` (256 in Open MPI).
    static let maxString = 256

    /// The library names tried in order, or only `KILN_MPI_LIBRARY` (a path or name) when set.
    static func candidates(environment: [String: String]) -> [String] {
        environment["KILN_MPI_LIBRARY"].map { [$0] } ?? ["libmpi.so.40", "libmpi.so"]
    }

    /// Opens Open MPI and resolves every symbol, or throws naming what is missing.
    static func load(environment: [String: String]) throws(DistributedError) -> MPILibrary {
        // RTLD_GLOBAL: Open MPI's plugins (mca_*.so) resolve symbols of libmpi itself.
        var handle: UnsafeMutableRawPointer?
        var failures: [String] = []
        for name in candidates(environment: environment) {
            handle = dlopen(name, RTLD_NOW | RTLD_GLOBAL)
            if handle != nil { break }
            failures.append(dlerror().map { String(cString: $0) } ?? name)
        }
        guard let handle else { throw .libraryUnavailable(failures.joined(separator: "; ")) }

        func symbol(_ name: String) throws(DistributedError) -> UnsafeMutableRawPointer {
            guard let s = dlsym(handle, name) else { throw .libraryUnavailable("\(name) not found in the MPI library (Open MPI is required)") }
            return s
        }
        func function<F>(_ name: String, as type: F.Type) throws(DistributedError) -> F {
            unsafeBitCast(try symbol(name), to: F.self)
        }
        func global(_ name: String) throws(DistributedError) -> Handle { Handle(try symbol(name)) }

        return MPILibrary(
            initThread: try function("MPI_Init_thread", as: (@convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?, Int32, UnsafeMutablePointer<Int32>) -> Int32).self),
            initialized: try function("MPI_Initialized", as: (@convention(c) (UnsafeMutablePointer<Int32>) -> Int32).self),
            finalized: try function("MPI_Finalized", as: (@convention(c) (UnsafeMutablePointer<Int32>) -> Int32).self),
            finalize: try function("MPI_Finalize", as: (@convention(c) () -> Int32).self),
            commRank: try function("MPI_Comm_rank", as: (@convention(c) (Handle, UnsafeMutablePointer<Int32>) -> Int32).self),
            commSize: try function("MPI_Comm_size", as: (@convention(c) (Handle, UnsafeMutablePointer<Int32>) -> Int32).self),
            allreduce: try function("MPI_Allreduce", as: (@convention(c) (UnsafeRawPointer?, Buffer?, Int32, Handle, Handle, Handle) -> Int32).self),
            iallreduce: try function("MPI_Iallreduce", as: (@convention(c) (UnsafeRawPointer?, Buffer?, Int32, Handle, Handle, Handle, UnsafeMutablePointer<Handle?>) -> Int32).self),
            wait: try function("MPI_Wait", as: (@convention(c) (UnsafeMutablePointer<Handle?>, UnsafeMutableRawPointer?) -> Int32).self),
            bcast: try function("MPI_Bcast", as: (@convention(c) (Buffer?, Int32, Handle, Int32, Handle) -> Int32).self),
            barrier: try function("MPI_Barrier", as: (@convention(c) (Handle) -> Int32).self),
            abort: try function("MPI_Abort", as: (@convention(c) (Handle, Int32) -> Int32).self),
            commSetErrhandler: try function("MPI_Comm_set_errhandler", as: (@convention(c) (Handle, Handle) -> Int32).self),
            libraryVersion: try function("MPI_Get_library_version", as: (@convention(c) (UnsafeMutablePointer<CChar>, UnsafeMutablePointer<Int32>) -> Int32).self),
            errorString: try function("MPI_Error_string", as: (@convention(c) (Int32, UnsafeMutablePointer<CChar>, UnsafeMutablePointer<Int32>) -> Int32).self),
            commWorld: try global("ompi_mpi_comm_world"),
            float: try global("ompi_mpi_float"),
            double: try global("ompi_mpi_double"),
            sum: try global("ompi_mpi_op_sum"),
            max: try global("ompi_mpi_op_max"),
            errorsReturn: try global("ompi_mpi_errors_return"))
    }

    /// The text MPI gives for error `code`.
    func message(_ code: Int32) -> String {
        var text = [CChar](repeating: 0, count: Self.maxString + 1)
        var length: Int32 = 0
        guard errorString(code, &text, &length) == Self.success else { return "MPI error \(code)" }
        return String(decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The library's own description, e.g. "Open MPI v4.1.4, ...".
    func version() -> String {
        var text = [CChar](repeating: 0, count: Self.maxString + 1)
        var length: Int32 = 0
        guard libraryVersion(&text, &length) == Self.success else { return "unknown MPI" }
        let line = text.prefix(Int(length)).prefix { $0 != 10 && $0 != 0 }  // the first line
        return String(decoding: line.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
