import Kiln

/// Data-parallel training over the ranks of a ``Communicator``: every rank holds a replica of the
/// model, takes its shard of each global batch, and the ranks average their gradients before
/// every optimizer step, so that every replica takes the same step as one process on the whole
/// batch would (up to the order of floating-point sums).
///
/// A global batch of `n` samples is split into contiguous row ranges `shard(of: n)`: rank r takes
/// rows `n·r/size ..< n·(r+1)/size`, so shard sizes differ by at most one when `size` does not
/// divide `n` (and a rank gets no rows when `n < size`). Each rank's loss is the mean over its own
/// rows, so its gradient is scaled by `rows / n` before the sum: the result is the gradient of
/// the mean over all `n` rows, whatever the shard sizes.
package final class DataParallel {
    /// The ranks.
    package let communicator: Communicator
    /// The parameters whose gradients are averaged.
    package let parameters: [Parameter]
    private let buckets: GradientBuckets
    /// Seconds spent starting and waiting for gradient reductions.
    package private(set) var allreduceSeconds = 0.0
    /// Gradient reductions so far (one per step).
    package private(set) var allreduceCount = 0

    /// Data-parallel training of `parameters`, reducing gradients in buckets of about
    /// `bucketBytes` (2 MiB by default: ~0.5 M Float32 values).
    package init(communicator: Communicator, parameters: [Parameter], bucketBytes: Int = 2 << 20) {
        self.communicator = communicator
        self.parameters = parameters
        self.buckets = GradientBuckets(parameters: parameters, bucketBytes: bucketBytes, extraCount: 1)
    }

    /// The number of buckets gradients are reduced in.
    package var bucketCount: Int { buckets.buckets.count }

    /// This rank's rows of a global batch of `count` samples.
    package func shard(of count: Int) -> Range<Int> {
        Self.shard(of: count, rank: communicator.rank, size: communicator.size)
    }

    /// Rank `rank`'s rows of a global batch of `count` samples split over `size` ranks.
    package static func shard(of count: Int, rank: Int, size: Int) -> Range<Int> {
        count * rank / size ..< count * (rank + 1) / size
    }

    /// After backward on this rank's `localCount` rows of a `globalCount`-sample batch (with
    /// `localLoss` their mean loss): replaces every parameter's gradient by the gradient of the
    /// mean over the whole batch, and returns the mean loss over the whole batch.
    package func averageGradients(localLoss: Float, localCount: Int, globalCount: Int) -> Float {
        precondition(globalCount > 0 && localCount <= globalCount, "DataParallel: \(localCount) of \(globalCount) rows")
        let weight = Float(localCount) / Float(globalCount)
        let loss = buckets.sum(scale: weight, extra: [localCount > 0 ? localLoss * weight : 0], over: communicator,
                               communicationSeconds: &allreduceSeconds)
        allreduceCount += 1
        return loss[0]
    }

    /// Copies rank `root`'s values of `tensors` (parameters, buffers; contiguous) to every rank.
    package func broadcast(_ tensors: [Tensor], from root: Int = 0) {
        withPacked(tensors) { communicator.broadcast($0, from: root) }
    }

    /// Replaces `tensors` (running statistics) by their mean over the ranks.
    package func average(_ tensors: [Tensor]) {
        let scale = 1 / Float(communicator.size)
        withPacked(tensors) { flat in
            communicator.sum(flat)
            for i in flat.indices { flat[i] *= scale }
        }
    }

    /// Throws unless every rank holds the same bits in `tensors` and the same `values`;
    /// `what` names them in the error.
    package func checkReplicas(_ tensors: [Tensor], values: [Int] = [], what: String) throws(DistributedError) {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ word: UInt64) { hash = (hash ^ word) &* 0x0000_0100_0000_01B3 }
        for t in tensors {
            t.withUnsafeBufferPointer { for x in $0 { mix(UInt64(x.bitPattern)) } }
        }
        for v in values { mix(UInt64(bitPattern: Int64(v))) }
        // Both 32-bit halves are exact in a Double; max(x) == -max(-x) on every rank iff all agree.
        let halves = [Double(hash >> 32), Double(hash & 0xFFFF_FFFF)]
        let maxima = communicator.max(halves + halves.map { -$0 })
        guard maxima[0] == -maxima[2] && maxima[1] == -maxima[3] else {
            throw .replicasDiffer(what)
        }
    }

    /// Calls `body` with `tensors` packed end to end, then copies the buffer back into them.
    private func withPacked(_ tensors: [Tensor], _ body: (UnsafeMutableBufferPointer<Float>) -> Void) {
        let total = tensors.reduce(0) { $0 + $1.count }
        guard total > 0 else { return }
        let flat = UnsafeMutableBufferPointer<Float>.allocate(capacity: total)
        defer { flat.deallocate() }
        var offset = 0
        for t in tensors {
            t.withUnsafeBufferPointer { _ = UnsafeMutableBufferPointer(rebasing: flat[offset..<offset + $0.count]).initialize(fromContentsOf: $0) }
            offset += t.count
        }
        body(flat)
        offset = 0
        for t in tensors {
            t.withUnsafeMutableBufferPointer { _ = $0.update(fromContentsOf: UnsafeBufferPointer(rebasing: flat[offset..<offset + $0.count])) }
            offset += t.count
        }
    }
}
