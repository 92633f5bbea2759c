import Kiln

extension Batch {
    /// The samples at `range` (positions within this batch) as a batch of their own: a data-parallel
    /// rank's shard of a global batch. The inputs are a view of this batch's rows, not a copy.
    public func rows(_ range: Range<Int>) -> Batch {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "Batch.rows: \(range) outside 0..<\(count)")
        return Batch(inputs: inputs[range], labels: Array(labels[range]), indices: Array(indices[range]),
                     augmentations: augmentations.isEmpty ? [] : Array(augmentations[range]))
    }
}
