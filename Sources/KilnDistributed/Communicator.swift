#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The ranks of an `mpirun` job (MPI_COMM_WORLD): rank, size and the collectives data-parallel
/// training needs, on Float32 and Float64 buffers.
///
/// Failure policy: errors are returned, not fatal inside MPI (`MPI_ERRORS_RETURN`). Starting
/// throws a ``DistributedError``; a collective that fails (a peer died or lost its connection)
/// cannot be recovered from, so it prints the reason to stderr and ends the whole job with
/// `MPI_Abort` (exit status 1) instead of leaving this rank waiting on a dead peer.
package final class Communicator: @unchecked Sendable {
    let mpi: MPILibrary
    /// This process's rank, `0..<size`.
    package let rank: Int
    /// The number of ranks.
    package let size: Int
    /// The MPI library's one-line description.
    package let libraryVersion: String

    /// The world communicator, initialising MPI on first use (MPI can be initialised once per
    /// process); later calls return the same one. Call from one thread at a time.
    package static func world(environment: [String: String]) throws(DistributedError) -> Communicator {
        if let shared { return shared }
        guard environment["OMPI_COMM_WORLD_SIZE"] != nil || environment["PMIX_RANK"] != nil else {
            // Loading first tells a user without Open MPI to install it before anything else.
            _ = try MPILibrary.load(environment: environment)
            throw .notLaunched
        }
        let mpi = try MPILibrary.load(environment: environment)
        var flag: Int32 = 0
        _ = mpi.initialized(&flag)
        if flag == 0 {
            var provided: Int32 = 0
            try check(mpi, "MPI_Init_thread", mpi.initThread(nil, nil, MPILibrary.threadSerialized, &provided))
        }
        try check(mpi, "MPI_Comm_set_errhandler", mpi.commSetErrhandler(mpi.commWorld, mpi.errorsReturn))
        var rank: Int32 = 0, size: Int32 = 0
        try check(mpi, "MPI_Comm_rank", mpi.commRank(mpi.commWorld, &rank))
        try check(mpi, "MPI_Comm_size", mpi.commSize(mpi.commWorld, &size))
        let world = Communicator(mpi: mpi, rank: Int(rank), size: Int(size), libraryVersion: mpi.version())
        shared = world
        return world
    }

    nonisolated(unsafe) private static var shared: Communicator?

    private init(mpi: MPILibrary, rank: Int, size: Int, libraryVersion: String) {
        self.mpi = mpi
        self.rank = rank
        self.size = size
        self.libraryVersion = libraryVersion
    }

    private static func check(_ mpi: MPILibrary, _ call: String, _ code: Int32) throws(DistributedError) {
        guard code == MPILibrary.success else { throw .mpi(call: call, code: code, message: mpi.message(code)) }
    }

    /// Ends the job after a failed collective: see the failure policy above.
    func check(_ call: String, _ code: Int32) {
        guard code != MPILibrary.success else { return }
        abort(DistributedError.mpi(call: call, code: code, message: mpi.message(code)).description)
    }

    /// Prints `message` to stderr, ends every rank of the job with `MPI_Abort` and exits with 1.
    package func abort(_ message: String) -> Never {
        fflush(nil)
        let line = Array("kiln rank \(rank) of \(size): \(message)\n".utf8)
        _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        _ = mpi.abort(mpi.commWorld, 1)
        exit(1)
    }

    /// Leaves MPI; every rank must call it before exiting normally, or mpirun reports a failure.
    package func finalize() {
        var flag: Int32 = 0
        _ = mpi.finalized(&flag)
        if flag == 0 { _ = mpi.finalize() }
    }

    /// Waits until every rank has called it.
    package func barrier() { check("MPI_Barrier", mpi.barrier(mpi.commWorld)) }

    /// Sums `values` element-wise over the ranks, in place.
    package func sum(_ values: UnsafeMutableBufferPointer<Float>) {
        guard !values.isEmpty else { return }
        check("MPI_Allreduce", mpi.allreduce(MPILibrary.inPlace, UnsafeMutableRawPointer(values.baseAddress),
                                             Int32(values.count), mpi.float, mpi.sum, mpi.commWorld))
    }

    /// `values` summed element-wise over the ranks.
    package func sum(_ values: [Double]) -> [Double] { reduce(values, op: mpi.sum, name: "MPI_Allreduce(sum)") }

    /// The element-wise maximum of `values` over the ranks.
    package func max(_ values: [Double]) -> [Double] { reduce(values, op: mpi.max, name: "MPI_Allreduce(max)") }

    private func reduce(_ values: [Double], op: MPILibrary.Handle, name: String) -> [Double] {
        var result = values
        guard !result.isEmpty else { return result }
        result.withUnsafeMutableBytes { bytes in
            check(name, mpi.allreduce(MPILibrary.inPlace, bytes.baseAddress, Int32(values.count), mpi.double, op,
                                      mpi.commWorld))
        }
        return result
    }

    /// Copies rank `root`'s `values` to every rank, in place.
    package func broadcast(_ values: UnsafeMutableBufferPointer<Float>, from root: Int = 0) {
        guard !values.isEmpty else { return }
        check("MPI_Bcast", mpi.bcast(UnsafeMutableRawPointer(values.baseAddress), Int32(values.count), mpi.float,
                                     Int32(root), mpi.commWorld))
    }

    /// A started in-place sum of a buffer over the ranks (`MPI_Iallreduce`); ``wait(_:)`` completes it.
    package struct Request {
        fileprivate var handle: MPILibrary.Handle?
    }

    /// Starts summing `values` over the ranks in place; the buffer must stay alive and untouched
    /// until ``wait(_:)`` returns.
    package func startSum(_ values: UnsafeMutableBufferPointer<Float>) -> Request {
        var request = Request()
        guard !values.isEmpty else { return request }
        check("MPI_Iallreduce", mpi.iallreduce(MPILibrary.inPlace, UnsafeMutableRawPointer(values.baseAddress),
                                               Int32(values.count), mpi.float, mpi.sum, mpi.commWorld, &request.handle))
        return request
    }

    /// Waits for a started sum to complete.
    package func wait(_ request: inout Request) {
        guard request.handle != nil else { return }
        check("MPI_Wait", mpi.wait(&request.handle, nil))
    }
}
