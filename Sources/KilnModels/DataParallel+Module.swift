import Kiln
import KilnDistributed
import KilnNN

extension DataParallel {
    /// Makes every rank's replica of `model` rank 0's: parameters and buffers broadcast, then
    /// checked bit for bit together with `stepCount`; throws if the ranks still disagree (e.g.
    /// they resumed from different checkpoints).
    package func synchronize(_ model: Module, stepCount: Int) throws(DistributedError) {
        let tensors = model.parameters().map(\.value) + buffers(of: model)
        broadcast(tensors)
        try checkReplicas(tensors, values: [stepCount], what: "model weights or step count after broadcasting rank 0's")
    }

    /// Replaces every rank's buffers of `model` (batch-norm running statistics, which ranks compute
    /// from their own shards) by their mean over the ranks, so that evaluations and checkpoints
    /// see one model.
    package func averageBuffers(of model: Module) {
        average(buffers(of: model))
    }

    private func buffers(of model: Module) -> [Tensor] {
        model.namedModules().flatMap { $0.1.ownBuffers.map(\.1) }
    }
}
