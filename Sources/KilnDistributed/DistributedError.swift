/// Why distributed training could not start, or stopped.
package enum DistributedError: Error, Equatable, CustomStringConvertible {
    /// The MPI library could not be loaded (the reasons `dlopen`/`dlsym` gave).
    case libraryUnavailable(String)
    /// The process was not started by `mpirun` (no `OMPI_COMM_WORLD_SIZE` in the environment).
    case notLaunched
    /// An MPI call returned an error.
    case mpi(call: String, code: Int32, message: String)
    /// The ranks disagree about something that must be the same on all of them.
    case replicasDiffer(String)

    /// How to install and launch, for a user who asked for `--distributed`.
    package static let howTo = """
        install Open MPI (apt-get install libopenmpi-dev openmpi-bin) and launch every rank with mpirun, \
        e.g. `mpirun -np 2 kiln train mnist-mlp --distributed` (as root add --allow-run-as-root; \
        more ranks than cores add --oversubscribe); see Docs/DISTRIBUTED.md
        """

    /// A message saying what went wrong and what to do.
    package var description: String {
        switch self {
        case .libraryUnavailable(let why):
            "--distributed needs Open MPI's libmpi.so.40, which could not be loaded (\(why)); " + Self.howTo
        case .notLaunched:
            "--distributed: this process was not started by mpirun; " + Self.howTo
        case .mpi(let call, let code, let message):
            "\(call) failed (MPI error \(code): \(message)); another rank has probably died or lost its connection"
        case .replicasDiffer(let what):
            "the ranks disagree: \(what)"
        }
    }
}
