import Foundation
import Testing

/// The `kiln` executable built beside this test bundle.
private func kilnExecutable() -> URL? {
    let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("kiln")
    if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let debug = root.appendingPathComponent(".build/debug/kiln")
    return FileManager.default.isExecutableFile(atPath: debug.path) ? debug : nil
}

/// A small learnable MNIST-format dataset: `count` 28×28 images whose bright band depends on the label.
private func writeSyntheticMNIST(to folder: URL, trainCount: Int, testCount: Int) throws {
    let generator = SystemRandomNumberGeneratorStandIn(seed: 11)
    func write(_ split: String, _ count: Int) throws {
        var images: [UInt8] = [0, 0, 8, 3], labels: [UInt8] = [0, 0, 8, 1]
        for header in [[count, 28, 28], [count]] {
            var bytes: [UInt8] = []
            for n in header { bytes += [UInt8(n >> 24 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] }
            if header.count == 3 { images += bytes } else { labels += bytes }
        }
        for _ in 0..<count {
            let label = Int(generator.next() % 10)
            labels.append(UInt8(label))
            for row in 0..<28 {
                for _ in 0..<28 {
                    let band = row / 3 == label
                    images.append(band ? UInt8(180 + generator.next() % 75) : UInt8(generator.next() % 60))
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

/// A tiny deterministic generator (SplitMix64) for the synthetic data.
private final class SystemRandomNumberGeneratorStandIn {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Step and evaluation records of a metrics log as text (`step epoch batch loss lr`), so that
/// equality is bit for bit.
private func records(_ path: String) throws -> (steps: [String], evals: [String]) {
    var steps: [String] = [], evals: [String] = []
    for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
        func field(_ name: String) -> Substring {
            guard let r = line.range(of: "\"\(name)\":") else { return "-" }
            return line[r.upperBound...].prefix { $0 != "," && $0 != "}" }
        }
        if line.hasPrefix("{\"event\":\"step\"") {
            steps.append("\(field("step")) \(field("epoch")) \(field("batch")) \(field("loss")) \(field("lr"))")
        } else if line.hasPrefix("{\"event\":\"eval\"") {
            evals.append("\(field("step")) \(field("train_loss")) \(field("val_loss")) \(field("accuracy"))")
        }
    }
    return (steps, evals)
}

private func stepCount(_ path: String) -> Int {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return 0 }
    return text.components(separatedBy: "{\"event\":\"step\"").count - 1
}

/// Runs `kiln` with `arguments` and `environment` additions; returns the exit status.
@discardableResult
private func runKiln(_ kiln: URL, _ arguments: [String], environment: [String: String] = [:],
                     killWhen: (() -> Bool)? = nil) throws -> Int32 {
    let process = Process()
    process.executableURL = kiln
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    if let killWhen {
        while process.isRunning && !killWhen() { usleep(2_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
    process.waitUntilExit()
    return process.terminationStatus
}

/// The acceptance test of exact resume: `kiln train` killed with SIGKILL at random moments (and
/// once in the middle of writing a checkpoint) and resumed each time logs, step for step, the same
/// losses bit for bit as a run that was never interrupted.
@Test func killedAndResumedTrainingLogsTheSameLossesAsAnUninterruptedRun() throws {
    guard let kiln = kilnExecutable() else {
        Issue.record("the kiln executable was not found beside the tests; build it with `swift build`")
        return
    }
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-kill-\(UInt32.random(in: 0...UInt32.max))")
    defer { try? FileManager.default.removeItem(at: folder) }
    try writeSyntheticMNIST(to: folder.appendingPathComponent("data"), trainCount: 320, testCount: 64)
    let common = ["train", "mnist-mlp", "--data-dir", folder.appendingPathComponent("data").path, "--epochs", "3",
                  "--batch-size", "32", "--threads", "1", "--seed", "3"]
    let reference = folder.appendingPathComponent("reference.jsonl").path
    #expect(try runKiln(kiln, common + ["--log", reference]) == 0)
    let expected = try records(reference)
    #expect(expected.steps.count == 30 && expected.evals.count == 3)

    let log = folder.appendingPathComponent("run.jsonl").path
    let resumable = common + ["--checkpoint-dir", folder.appendingPathComponent("ckpt").path, "--checkpoint-every", "4",
                              "--keep", "2", "--resume", "--log", log]
    // Killed in the middle of a checkpoint: its files written, not yet renamed.
    #expect(try runKiln(kiln, resumable, environment: ["KILN_CHECKPOINT_FAILPOINT": "filesWritten:8"]) == SIGKILL)
    // Killed at random moments (after a random number of logged steps, plus a random delay).
    let seed = UInt64(Date().timeIntervalSince1970 * 1000)
    let generator = SystemRandomNumberGeneratorStandIn(seed: seed)
    var kills: [Int] = []
    for _ in 0..<3 {
        let target = min(stepCount(log) + 1 + Int(generator.next() % 8), 29)
        let delay = UInt32(generator.next() % 20_000)
        var reached: Date?
        try runKiln(kiln, resumable) {
            if reached == nil && stepCount(log) >= target { reached = Date() }
            return reached.map { Date().timeIntervalSince($0) * 1e6 >= Double(delay) } ?? false
        }
        kills.append(stepCount(log))
    }
    #expect(try runKiln(kiln, resumable) == 0)
    let resumed = try records(log)
    print("kill -9 resume (seed \(seed)): killed before a checkpoint's rename (step 8), then after logged steps \(kills); "
          + "\(resumed.steps.count) step records, identical to the uninterrupted run: \(resumed.steps == expected.steps)")
    #expect(resumed.steps == expected.steps)
    #expect(resumed.evals == expected.evals)
}
