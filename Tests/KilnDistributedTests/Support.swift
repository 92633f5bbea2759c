import Foundation
import Kiln
import KilnNN
import Testing

/// The `kiln` executable built beside this test bundle (or in .build/debug).
func kilnExecutable() -> URL? {
    let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("kiln")
    if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let debug = root.appendingPathComponent(".build/debug/kiln")
    return FileManager.default.isExecutableFile(atPath: debug.path) ? debug : nil
}

/// `mpirun` on the PATH, or nil: the distributed tests are skipped without it.
let mpirun: URL? = {
    for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
        let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent("mpirun")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
    }
    return nil
}()

/// Why the distributed tests are skipped, shown in the test output.
let mpirunMissing: Comment = "mpirun not found on PATH: install Open MPI (apt-get install libopenmpi-dev openmpi-bin) to run the distributed tests"

/// A started process with its output going to `logFile`.
func start(_ executable: URL, _ arguments: [String], logFile: URL) throws -> Process {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    // Root in containers; more ranks than cores.
    process.environment = ProcessInfo.processInfo.environment.merging(
        ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"]) { $1 }
    _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
    let handle = try FileHandle(forWritingTo: logFile)
    process.standardOutput = handle
    process.standardError = handle
    try process.run()
    return process
}

/// Runs `kiln` with `arguments`, on `ranks` mpirun ranks (`--distributed` added) or, with nil,
/// as one plain process; returns the exit status and the output.
func runKiln(_ kiln: URL, _ arguments: [String], ranks: Int?, in folder: URL) throws -> (status: Int32, output: String) {
    let log = folder.appendingPathComponent("kiln-\(ranks ?? 0)-\(UInt32.random(in: 0...UInt32.max)).log")
    let process: Process
    if let ranks, let mpirun {
        process = try start(mpirun, ["--oversubscribe", "-np", String(ranks), kiln.path] + arguments + ["--distributed"],
                            logFile: log)
    } else {
        process = try start(kiln, arguments, logFile: log)
    }
    process.waitUntilExit()
    return (process.terminationStatus, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
}

/// Writes an MNIST-format dataset to `folder`: 28×28 images whose bright column pair is the
/// label's, over noise from a fixed linear congruential sequence, so that an MLP learns it.
func writeColumnMNIST(to folder: URL, trainCount: Int, testCount: Int) throws {
    var state: UInt32 = 12345
    func next() -> UInt32 {
        state = state &* 1_664_525 &+ 1_013_904_223
        return state >> 8
    }
    func bigEndian(_ values: [Int]) -> [UInt8] {
        values.flatMap { n in [24, 16, 8, 0].map { UInt8(n >> $0 & 0xFF) } }
    }
    func write(_ split: String, _ count: Int) throws {
        var images = [0, 0, 8, 3] + bigEndian([count, 28, 28])
        var labels = [0, 0, 8, 1] + bigEndian([count])
        for _ in 0..<count {
            let label = Int(next() % 10)
            labels.append(UInt8(label))
            for _ in 0..<28 {
                for column in 0..<28 {
                    images.append(column / 2 - 4 == label ? UInt8(160 + next() % 90) : UInt8(next() % 80))
                }
            }
        }
        try Data(images).write(to: folder.appendingPathComponent("\(split)-images-idx3-ubyte"))
        try Data(labels).write(to: folder.appendingPathComponent("\(split)-labels-idx1-ubyte"))
    }
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try write("train", trainCount)
    try write("t10k", testCount)
}

/// The largest relative difference `‖a − b‖ / ‖b‖` over the tensors two `.safetensors` files share
/// by name, and the names of those only one of them has.
func largestRelativeDifference(_ a: String, _ b: String) throws -> (difference: Double, unmatched: [String]) {
    let left = Dictionary(uniqueKeysWithValues: try SafeTensors(contentsOf: a).tensors())
    let right = Dictionary(uniqueKeysWithValues: try SafeTensors(contentsOf: b).tensors())
    var largest = 0.0
    for (name, x) in left {
        guard let y = right[name], y.shape == x.shape else { continue }
        let (u, v) = (x.scalars, y.scalars)
        let difference = zip(u, v).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot()
        let norm = v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        largest = max(largest, difference / max(norm, 1e-30))
    }
    let unmatched = Set(left.keys).symmetricDifference(right.keys).sorted()
    return (largest, unmatched)
}
