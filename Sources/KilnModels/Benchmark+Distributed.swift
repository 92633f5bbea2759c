import Kiln
import KilnDistributed

extension BenchWorkload {
    /// Set while a data-parallel benchmark builds a workload's step: given the model's parameters,
    /// returns what the step calls between backward and the optimizer update (the gradient
    /// allreduce). nil otherwise. Only ``runDistributedBenchmark(_:world:globalBatchSize:steps:warmup:)``
    /// sets it, on the thread that runs the benchmark.
    nonisolated(unsafe) static var gradientReducer: (([Parameter]) -> () -> Void)?
}

/// One rank's part of a data-parallel benchmark.
package struct DistributedBenchResult {
    /// This rank's timings, on its shard of the global batch.
    package var local: BenchResult
    /// Samples in the global batch.
    package var globalBatchSize: Int
    /// Gradient elements reduced per step.
    package var gradientCount: Int
    /// Buckets the gradients are reduced in.
    package var bucketCount: Int
    /// Mean seconds per step this rank spent starting and waiting for the gradient reductions.
    package var allreduceSeconds: Double
}

/// Times `workload` data-parallel: every rank runs the workload's step on its shard of a global
/// batch of `globalBatchSize` samples (default: the workload's reference batch), with gradients
/// averaged over the ranks between backward and the update, as in training.
package func runDistributedBenchmark(_ workload: BenchWorkload, world: Communicator, globalBatchSize: Int?,
                                     steps: Int, warmup: Int) -> DistributedBenchResult {
    let global = globalBatchSize ?? workload.defaultBatchSize
    precondition(global >= world.size, "runDistributedBenchmark: a batch of \(global) for \(world.size) ranks")
    let rows = DataParallel.shard(of: global, rank: world.rank, size: world.size)
    var dataParallel: DataParallel?
    BenchWorkload.gradientReducer = { parameters in
        let dp = DataParallel(communicator: world, parameters: parameters)
        dataParallel = dp
        return { _ = dp.averageGradients(localLoss: 0, localCount: rows.count, globalCount: global) }
    }
    defer { BenchWorkload.gradientReducer = nil }
    world.barrier()
    let local = runBenchmark(workload, batchSize: rows.count, steps: steps, warmup: warmup)
    let dp = dataParallel!
    return DistributedBenchResult(local: local, globalBatchSize: global,
                                  gradientCount: dp.parameters.reduce(0) { $0 + $1.count }, bucketCount: dp.bucketCount,
                                  allreduceSeconds: dp.allreduceSeconds / Double(max(dp.allreduceCount, 1)))
}
