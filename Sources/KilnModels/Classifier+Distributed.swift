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
            let loss = crossEntropy(model(batch.rows(rows).inputs), labels: Array(batch.labels[rows]))
            loss.backward()
            localLoss = loss.item
        }
        return dataParallel.averageGradients(localLoss: localLoss, localCount: rows.count, globalCount: batch.count)
    }

    /// The model's buffers (batch-norm running statistics), which ranks compute from their own shards.
    var modelBuffers: [Tensor] {
        model.namedModules().flatMap { $0.1.ownBuffers.map(\.1) }
    }

    /// Makes every rank's replica rank 0's: parameters and buffers broadcast, then checked bit
    /// for bit together with the step count; throws if the ranks still disagree (e.g. they
    /// resumed from different checkpoints).
    package func synchronizeReplicas() throws(DistributedError) {
        guard let dataParallel else { return }
        let parameters = model.parameters().map(\.value)
        dataParallel.broadcast(parameters + modelBuffers)
        try dataParallel.checkReplicas(parameters + modelBuffers, values: [stepCount],
                                       what: "model weights or step count after broadcasting rank 0's")
    }

    /// Replaces every rank's buffers by their mean over the ranks, so that evaluations and
    /// checkpoints see one model; nothing without ``dataParallel``.
    func averageBuffers() {
        guard let dataParallel else { return }
        dataParallel.average(modelBuffers)
    }
}
