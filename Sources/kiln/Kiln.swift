import ArgumentParser
import Kiln
import KilnModels

@main
struct KilnCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kiln",
        abstract: "Train, benchmark and inspect Kiln models.",
        subcommands: [Train.self, Sample.self, Bench.self, Info.self, Plot.self])
}

/// Options every compute-heavy command shares.
struct ComputeOptions: ParsableArguments {
    @Option(help: "Compute threads (OpenBLAS and Swift kernels).")
    var threads: Int = min(Machine.cpuCount, 2)

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }
}
