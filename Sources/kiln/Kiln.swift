import ArgumentParser
import KilnModels

@main
struct KilnCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kiln",
        abstract: "Train, benchmark and inspect Kiln models.",
        subcommands: [Info.self])
}

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show versions, OpenBLAS and the thread count.")
    func run() throws {
        print("OpenBLAS core: \(openBLASCoreName()), threads: \(openBLASThreadCount())")
    }
}
