import ArgumentParser
import Foundation
import Kiln
import KilnDistributed
import KilnModels

/// `--distributed`: data-parallel training or benchmarking over the ranks of an `mpirun` job.
struct DistributedOptions: ParsableArguments {
    @Flag(help: "Data-parallel over the ranks of an mpirun job (Open MPI, loaded at run time): every rank takes its share of each global batch and gradients are averaged; only rank 0 prints and writes files. Launch with e.g. `mpirun -np 2 kiln train mnist-mlp --distributed`; see Docs/DISTRIBUTED.md.")
    var distributed = false

    /// Joins the mpirun job when `--distributed` was given (nil otherwise): stdout of every rank
    /// but 0 goes to /dev/null (errors still reach stderr). Throws, saying what to install and how
    /// to launch, when Open MPI cannot be loaded or the process was not started by mpirun.
    func join() throws -> Communicator? {
        guard distributed else { return nil }
        let world = try Communicator.world(environment: ProcessInfo.processInfo.environment)
        if world.rank != 0 {
            fflush(nil)
            let null = open("/dev/null", O_WRONLY)
            if null >= 0 { dup2(null, STDOUT_FILENO); close(null) }
        }
        return world
    }

    /// The compute threads of this rank: `requested` when `--threads` was given; otherwise, in an
    /// mpirun job, this machine's cores shared among the ranks on it (at least 1).
    func threads(_ requested: Int, _ world: Communicator?) -> Int {
        guard world != nil, !CommandLine.arguments.contains(where: { $0 == "--threads" || $0.hasPrefix("--threads=") }) else {
            return requested
        }
        let local = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) ?? 1
        return max(1, Machine.cpuCount / max(local, 1))
    }

    /// Runs `body`; in an mpirun job, leaves MPI after it, or, when it throws, prints the error and
    /// ends every rank (a rank that stopped alone would leave the others waiting in a collective).
    func run(_ world: Communicator?, _ body: () throws -> Void) throws {
        guard let world else { return try body() }
        do {
            try body()
        } catch {
            world.abort("\(error)")
        }
        fflush(nil)
        world.finalize()
    }
}

/// One line describing the job, e.g. "distributed: 2 ranks × 1 thread (Open MPI v4.1.4, …)".
func describeJob(_ world: Communicator, threads: Int) -> String {
    "distributed: \(world.size) rank(s) × \(threads) thread(s) (\(world.libraryVersion))"
}

/// What each rank spent reducing gradients during this process's `seconds` of training (evaluations
/// and checkpoints included), for rank 0 to print at the end of a run.
func allreduceSummary(_ dataParallel: DataParallel, seconds: Double) -> String {
    let world = dataParallel.communicator
    var mine = [Double](repeating: 0, count: 2 * world.size)
    mine[2 * world.rank] = dataParallel.allreduceSeconds
    mine[2 * world.rank + 1] = seconds
    let all = world.sum(mine)
    let perRank = (0..<world.size).map { r in
        String(format: "rank %d %.2f s (%.1f%%)", r, all[2 * r], all[2 * r] / max(all[2 * r + 1], 1e-9) * 100)
    }
    let floats = dataParallel.parameters.reduce(0) { $0 + $1.count }
    return String(format: "allreduce: %d steps of %d floats in %d bucket(s); time in allreduce ",
                  dataParallel.allreduceCount, floats, dataParallel.bucketCount)
        + perRank.joined(separator: ", ") + " of the run"
}

/// `kiln bench --distributed`: each workload on every rank's shard of the global batch with the
/// gradient allreduce in the step; rank 0 prints per-rank and aggregate throughput and the time
/// spent in allreduce with its bandwidth (bytes of the gradients per second of allreduce).
func benchDistributed(_ workloads: [BenchWorkload], world: Communicator, batchSize: Int?, steps: Int, warmup: Int) {
    print(describeJob(world, threads: threadCount()))
    for workload in workloads {
        let r = runDistributedBenchmark(workload, world: world, globalBatchSize: batchSize, steps: steps, warmup: warmup)
        // Per rank: units per second, median step seconds, allreduce seconds per step.
        var mine = [Double](repeating: 0, count: 3 * world.size)
        mine[3 * world.rank] = r.local.unitsPerSecond
        mine[3 * world.rank + 1] = r.local.medianMilliseconds / 1000
        mine[3 * world.rank + 2] = r.allreduceSeconds
        let all = world.sum(mine)
        let ranks = 0..<world.size
        let slowest = ranks.map { all[3 * $0 + 1] }.max() ?? 0
        let aggregate = Double(r.globalBatchSize * workload.unitsPerSample) / max(slowest, 1e-12)
        let allreduce = ranks.map { all[3 * $0 + 2] }.reduce(0, +) / Double(world.size)
        let bytes = Double(r.gradientCount * MemoryLayout<Float>.size)
        print(String(format: "%@: global batch %d (%@ per rank): aggregate %.0f %@/s at the slowest rank's median step %.2f ms",
                     workload.name as NSString, r.globalBatchSize,
                     ranks.map { String(DataParallel.shard(of: r.globalBatchSize, rank: $0, size: world.size).count) }
                         .joined(separator: "/") as NSString,
                     aggregate, workload.unit as NSString, slowest * 1000))
        print("  per rank: " + ranks.map { String(format: "rank %d %.0f %@/s", $0, all[3 * $0], workload.unit as NSString) }
                .joined(separator: ", "))
        print(String(format: "  allreduce: %d floats (%.2f MB) in %d bucket(s): %.3f ms per step in the step (mean over ranks, waiting for slower ranks included), %.1f%% of the step",
                     r.gradientCount, bytes / 1e6, r.bucketCount, allreduce * 1000, allreduce / max(slowest, 1e-12) * 100))
        print(String(format: "  allreduce alone (after a barrier, median of 20): %.3f ms, %.2f GB/s of gradient",
                     r.isolatedAllreduceSeconds * 1000, bytes / max(r.isolatedAllreduceSeconds, 1e-12) / 1e9))
        fflush(nil)
    }
}
