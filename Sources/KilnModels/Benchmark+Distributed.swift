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
    /// Mean seconds per step this rank spent starting and waiting for the gradient reductions
    /// (waiting for slower ranks included).
    package var allreduceSeconds: Double
    /// Median seconds of one blocking allreduce of `gradientCount` floats started by all ranks
    /// together (after a barrier): the reduction alone, for its bandwidth.
    package var isolatedAllreduceSeconds: Double
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
    let count = dp.parameters.reduce(0) { $0 + $1.count }
    return DistributedBenchResult(local: local, globalBatchSize: global, gradientCount: count, bucketCount: dp.bucketCount,
                                  allreduceSeconds: dp.allreduceSeconds / Double(max(dp.allreduceCount, 1)),
                                  isolatedAllreduceSeconds: isolatedAllreduceSeconds(world, count: count, repeats: 20))
}

/// The median time of `repeats` in-place allreduces of `count` floats, each after a barrier.
private func isolatedAllreduceSeconds(_ world: Communicator, count: Int, repeats: Int) -> Double {
    let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
    defer { buffer.deallocate() }
    buffer.initialize(repeating: 1)
    let clock = ContinuousClock()
    var times: [Double] = []
    for _ in 0..<repeats {
        world.barrier()
        let t0 = clock.now
        world.sum(buffer)
        times.append((clock.now - t0).seconds)
    }
    // The same value on every rank: the slowest rank's median.
    return world.max([times.sorted()[times.count / 2]])[0]
}
