import Kiln
import KilnData
import KilnDistributed
import KilnNN

extension ClassifierTrainer {
    /// The data-parallel half of ``computeGradients(_:)``: forward and backward on this rank's
    /// rows of the global `batch`, then gradients (and the loss) averaged over the ranks. Dropout
    /// layers draw their masks for the whole batch and keep this rank's rows, so the step is the
    /// one a single process would take on the whole batch. Returns the mean loss over the batch.
    /// (A rank with no rows, when the batch has fewer samples than there are ranks, draws no masks
    /// and its generator falls behind the others': later masks differ from one process's.)
    func shardGradients(_ batch: Batch, _ dataParallel: DataParallel) -> Float {
        let rows = dataParallel.shard(of: batch.count)
        let dropouts = model.modules().compactMap { $0 as? Dropout }
        for d in dropouts { d.batchWindow = (rows.lowerBound, batch.count) }
        defer { for d in dropouts { d.batchWindow = nil } }
        var localLoss: Float = 0
        if !rows.isEmpty {
            let loss = crossEntropy(model(batch.rows(rows).inputs.to(device)), labels: Array(batch.labels[rows]),
                                    labelSmoothing: labelSmoothing)
            loss.backward()
            localLoss = loss.item
        }
        return dataParallel.averageGradients(localLoss: localLoss, localCount: rows.count, globalCount: batch.count)
    }

    /// Makes every rank's replica rank 0's (see ``DataParallel/synchronize(_:stepCount:)``).
    package func synchronizeReplicas() throws(DistributedError) {
        try dataParallel?.synchronize(model, stepCount: stepCount)
    }

    /// Averages the model's buffers over the ranks; nothing without ``dataParallel``.
    func averageBuffers() {
        dataParallel?.averageBuffers(of: model)
    }
}
