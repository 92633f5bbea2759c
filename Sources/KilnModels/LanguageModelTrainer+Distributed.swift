import Kiln
import KilnDistributed

extension LanguageModelTrainer {
    /// This rank's windows (rows) of a batch drawn by every rank alike: the token span of rows
    /// `rows` of a row-major `[batchSize, contextLength]` batch.
    private func span(_ rows: Range<Int>) -> Range<Int> {
        rows.lowerBound * contextLength ..< rows.upperBound * contextLength
    }

    /// The data-parallel half of ``computeGradients()``: forward and backward on this rank's
    /// windows of the batch, then gradients (and the loss) averaged over the ranks, weighted by
    /// windows. Returns the mean loss over the whole batch.
    func shardGradients(_ inputs: [Int32], _ targets: [Int32], _ dataParallel: DataParallel) -> Float {
        let rows = dataParallel.shard(of: batchSize)
        var localLoss: Float = 0
        if !rows.isEmpty {
            let tokens = span(rows)
            let loss = crossEntropy(model.logits(Array(inputs[tokens]), batch: rows.count, time: contextLength),
                                    labels: Array(targets[tokens]))
            loss.backward()
            localLoss = loss.item
        }
        return dataParallel.averageGradients(localLoss: localLoss, localCount: rows.count, globalCount: batchSize)
    }

    /// This rank's share of the mean loss of an evaluation batch: its windows' mean loss times
    /// their share of the batch (the ranks' shares sum to the batch's mean loss).
    func shardLoss(_ inputs: [Int32], _ targets: [Int32], _ dataParallel: DataParallel) -> Double {
        let rows = dataParallel.shard(of: batchSize)
        guard !rows.isEmpty else { return 0 }
        let tokens = span(rows)
        let loss = crossEntropy(model.logits(Array(inputs[tokens]), batch: rows.count, time: contextLength),
                                labels: Array(targets[tokens])).item
        return Double(loss) * Double(rows.count) / Double(batchSize)
    }
}
