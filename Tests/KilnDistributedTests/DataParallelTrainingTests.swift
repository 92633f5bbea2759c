import Foundation
import Testing

/// `kiln train --distributed` under `mpirun`: the weights after 200 steps at a global batch of
/// 128 on 2 and 4 ranks are those of one process with the same batch (the ranks' shards of each
/// batch, their dropout masks drawn for the whole batch, gradients averaged by shard size).
@Suite(.serialized, .enabled(if: mpirun != nil, mpirunMissing))
struct DataParallelTrainingTests {
    @Test func twoAndFourRanksEndWithTheWeightsOfOneProcess() throws {
        let kiln = try #require(kilnExecutable(), "the kiln executable was not found; build it with `swift build`")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-dp-\(UInt32.random(in: 0...UInt32.max))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = folder.appendingPathComponent("data")
        // 1280 samples at batch 128: 10 steps per epoch, 20 epochs = 200 steps.
        try writeColumnMNIST(to: data, trainCount: 1280, testCount: 128)
        try expectRanksMatchOneProcess(kiln, in: folder, "mlp after 200 steps",
                                       ["train", "mnist-mlp", "--data-dir", data.path, "--epochs", "20",
                                        "--batch-size", "128", "--seed", "5", "--threads", "1"])
    }
}

/// `kiln train char-lstm --distributed`: every rank draws the same windows and takes its rows; on
/// 2 ranks (3 windows each) and 4 ranks (1, 2, 1, 2 windows, weighted accordingly) the weights
/// after 6 steps are one process's.
@Suite(.serialized, .enabled(if: mpirun != nil, mpirunMissing))
struct DataParallelLanguageModelTests {
    @Test func languageModelRanksEndWithTheWeightsOfOneProcess() throws {
        let kiln = try #require(kilnExecutable(), "the kiln executable was not found; build it with `swift build`")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-dplm-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        // A text of words from a small vocabulary, long enough for validation windows of 64.
        let words = ["the", "kiln", "fires", "clay", "slowly", "and", "evenly", "."]
        var state: UInt32 = 7
        let text = (0..<4000).map { _ -> String in
            state = state &* 1_664_525 &+ 1_013_904_223
            return words[Int(state >> 24) % words.count]
        }.joined(separator: " ")
        let textFile = folder.appendingPathComponent("text.txt")
        try text.write(to: textFile, atomically: true, encoding: .utf8)
        try expectRanksMatchOneProcess(kiln, in: folder, "char-lstm after 6 steps",
                                       ["train", "char-lstm", "--text", textFile.path, "--steps", "6",
                                        "--batch-size", "6", "--eval-every", "3", "--eval-batches", "1",
                                        "--sample-length", "0", "--seed", "4", "--threads", "1"])
    }
}

/// A rank killed with SIGKILL in the middle of distributed training: mpirun stops the others
/// (non-zero, within 30 s), the newest checkpoint loads, and resuming it on 2 ranks ends with the
/// weights of a run that was never interrupted.
@Suite(.serialized, .enabled(if: mpirun != nil, mpirunMissing))
struct RankFailureTests {
    @Test func aKilledRankStopsTheJobAndTheRunResumesFromTheLastCheckpoint() throws {
        let kiln = try #require(kilnExecutable(), "the kiln executable was not found; build it with `swift build`")
        let mpirun = try #require(mpirun)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-dpkill-\(UInt32.random(in: 0...UInt32.max))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = folder.appendingPathComponent("data")
        try writeColumnMNIST(to: data, trainCount: 640, testCount: 64)
        let checkpoints = folder.appendingPathComponent("ckpt")
        func arguments(_ weights: String, checkpoint: Bool) -> [String] {
            ["train", "mnist-mlp", "--data-dir", data.path, "--epochs", "6", "--batch-size", "64", "--seed", "2",
             "--threads", "1", "--save-model", folder.appendingPathComponent(weights).path]
                + (checkpoint ? ["--checkpoint-dir", checkpoints.path, "--checkpoint-every", "3", "--resume"] : [])
        }
        let reference = try runKiln(kiln, arguments("reference.safetensors", checkpoint: false), ranks: 2, in: folder)
        #expect(reference.status == 0, "uninterrupted run failed:\n\(reference.output)")

        // Start, wait for a checkpoint past the first, kill -9 one rank.
        let log = folder.appendingPathComponent("killed.log")
        let job = try start(mpirun, ["--oversubscribe", "-np", "2", kiln.path] + arguments("killed.safetensors", checkpoint: true)
                                + ["--distributed"], logFile: log)
        let deadline = Date().addingTimeInterval(120)
        while job.isRunning && Date() < deadline && checkpointSteps(checkpoints).filter({ $0 >= 6 }).isEmpty {
            usleep(20_000)
        }
        let ranks = childProcesses(of: job.processIdentifier)
        try #require(job.isRunning && ranks.count == 2, "the job ended or has no 2 ranks: \(ranks)")
        kill(ranks[ranks.count - 1], SIGKILL)
        let killedAt = Date()
        while job.isRunning && Date().timeIntervalSince(killedAt) < 30 { usleep(20_000) }
        let stopped = Date().timeIntervalSince(killedAt)
        if job.isRunning { kill(job.processIdentifier, SIGKILL) }
        job.waitUntilExit()
        print("rank \(ranks[ranks.count - 1]) killed: mpirun exited with \(job.terminationStatus) after \(String(format: "%.2f", stopped)) s; checkpoints at steps \(checkpointSteps(checkpoints))")
        #expect(stopped < 30)
        #expect(job.terminationStatus != 0)
        // No rank left behind.
        usleep(500_000)
        for pid in ranks { #expect(!isRunning(pid), "rank process \(pid) is still running") }

        // The newest checkpoint loads: the run resumes on 2 ranks and ends where the uninterrupted one did.
        let resumed = try runKiln(kiln, arguments("killed.safetensors", checkpoint: true), ranks: 2, in: folder)
        #expect(resumed.status == 0, "resumed run failed:\n\(resumed.output)")
        #expect(resumed.output.contains("resuming from"))
        let (difference, unmatched) = try largestRelativeDifference(folder.appendingPathComponent("killed.safetensors").path,
                                                                    folder.appendingPathComponent("reference.safetensors").path)
        #expect(unmatched.isEmpty)
        #expect(difference == 0, "resumed weights differ from the uninterrupted run's by \(difference)")
    }
}

/// The steps of the complete checkpoints in `directory` (`step-N` folders).
private func checkpointSteps(_ directory: URL) -> [Int] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return names.compactMap { $0.hasPrefix("step-") ? Int($0.dropFirst(5)) : nil }.sorted()
}

/// Whether process `pid` exists and is not a zombie.
private func isRunning(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    return stat[stat.index(after: close)...].split(separator: " ").first != "Z"
}

/// The processes whose parent is `pid`, in increasing pid order (read from /proc).
private func childProcesses(of pid: Int32) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).filter { child in
        guard let stat = try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        // Fields after "pid (comm)": state, ppid, …
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 1 && Int32(fields[1]) == pid
    }.sorted()
}

/// Runs `kiln arguments --save-model …` as one process and under `mpirun` on 2 and 4 ranks, and
/// expects every rank count to end with the one process's weights (within 1e-5 relative).
private func expectRanksMatchOneProcess(_ kiln: URL, in folder: URL, _ what: String, _ arguments: [String],
                                        sourceLocation: SourceLocation = #_sourceLocation) throws {
    func weights(_ ranks: Int?) throws -> String {
        let path = folder.appendingPathComponent("weights-\(ranks ?? 1).safetensors").path
        let (status, output) = try runKiln(kiln, arguments + ["--save-model", path], ranks: ranks, in: folder)
        #expect(status == 0, "kiln on \(ranks ?? 1) rank(s) failed:\n\(output)", sourceLocation: sourceLocation)
        return path
    }
    let single = try weights(nil)
    for ranks in [2, 4] {
        let (difference, unmatched) = try largestRelativeDifference(try weights(ranks), single)
        print("\(what), \(ranks) ranks vs 1 process: largest relative weight difference \(difference)")
        #expect(unmatched.isEmpty, sourceLocation: sourceLocation)
        #expect(difference < 1e-5, "\(ranks) ranks: relative difference \(difference)", sourceLocation: sourceLocation)
    }
}
