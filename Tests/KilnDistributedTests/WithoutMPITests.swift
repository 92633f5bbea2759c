import Foundation
import Testing

/// `--distributed` where it cannot work fails at once, saying what to install and how to launch:
/// outside mpirun, and with no loadable MPI library (simulated by `KILN_MPI_LIBRARY` naming a
/// missing one). Runs on every machine, with or without Open MPI.
@Suite struct WithoutMPITests {
    private func run(_ environment: [String: String]) throws -> (status: Int32, output: String) {
        let kiln = try #require(kilnExecutable(), "the kiln executable was not found; build it with `swift build`")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-nompi-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let process = Process()
        process.executableURL = kiln
        process.arguments = ["bench", "mlp", "--distributed", "--steps", "1"]
        // Without mpirun's variables, whatever launched the tests.
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("OMPI_") && !$0.key.hasPrefix("PMIX_") }
            .merging(environment) { $1 }
        let log = folder.appendingPathComponent("out.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        return (process.terminationStatus, try String(contentsOf: log, encoding: .utf8))
    }

    @Test func withoutTheLibraryItSaysWhatToInstall() throws {
        let (status, output) = try run(["KILN_MPI_LIBRARY": "/nonexistent/libmpi.so.40"])
        #expect(status != 0)
        #expect(output.contains("could not be loaded") && output.contains("/nonexistent/libmpi.so.40"), "\(output)")
        #expect(output.contains("apt-get install libopenmpi-dev openmpi-bin") && output.contains("mpirun -np 2"), "\(output)")
    }

    @Test(.enabled(if: mpirun != nil, mpirunMissing))
    func outsideMpirunItSaysHowToLaunch() throws {
        let (status, output) = try run([:])
        #expect(status != 0)
        #expect(output.contains("not started by mpirun") && output.contains("mpirun -np 2"), "\(output)")
    }
}
