import Kiln

/// Parameters' gradients packed into flat Float32 buckets of about `bucketBytes` each, summed
/// over the ranks with one `MPI_Iallreduce` per bucket.
///
/// Buckets follow the parameters in reverse order (the order backward produces their gradients,
/// last layer first), so a bucket is a few whole tensors: `[p_k … p_j]` packed end to end. A
/// parameter larger than a bucket gets a bucket of its own. The last bucket carries `extraCount`
/// more slots for scalars reduced along with the gradients (the loss), saving a round trip.
///
/// The sum starts bucket by bucket as soon as a bucket is packed, so packing bucket k+1 overlaps
/// the reduction of bucket k; the reductions do not overlap backward itself (the autograd engine
/// has no per-parameter "gradient ready" hook; on 2 cores there would be no idle core to run
/// the reduction meanwhile anyway).
final class GradientBuckets {
    struct Member {
        var parameter: Parameter
        var offset: Int
    }
    struct Bucket {
        var members: [Member]
        var buffer: UnsafeMutableBufferPointer<Float>
    }

    let buckets: [Bucket]
    let extraCount: Int
    /// The total of gradient elements (without the extra slots).
    let elementCount: Int

    init(parameters: [Parameter], bucketBytes: Int, extraCount: Int) {
        let capacity = Swift.max(bucketBytes / MemoryLayout<Float>.stride, 1)
        var groups: [[Parameter]] = []
        var filled = capacity
        for p in parameters.reversed() {
            if filled + p.count > capacity && filled > 0 {
                groups.append([])
                filled = 0
            }
            groups[groups.count - 1].append(p)
            filled += p.count
        }
        if groups.isEmpty { groups = [[]] }
        var buckets: [Bucket] = []
        for (i, group) in groups.enumerated() {
            var members: [Member] = []
            var offset = 0
            for p in group {
                members.append(Member(parameter: p, offset: offset))
                offset += p.count
            }
            let count = offset + (i == groups.count - 1 ? extraCount : 0)
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
            buffer.initialize(repeating: 0)
            buckets.append(Bucket(members: members, buffer: buffer))
        }
        self.buckets = buckets
        self.extraCount = extraCount
        self.elementCount = parameters.reduce(0) { $0 + $1.count }
    }

    deinit {
        for b in buckets { b.buffer.deallocate() }
    }

    /// Replaces every parameter's gradient by the sum over the ranks of `scale` × its gradient
    /// (a missing gradient counts as zeros), and returns `extra` summed over the ranks.
    /// `communicationSeconds` grows by the time spent starting and waiting for the reductions.
    func sum(scale: Float, extra: [Float], over communicator: Communicator,
             communicationSeconds: inout Double) -> [Float] {
        precondition(extra.count == extraCount, "GradientBuckets: \(extra.count) extra values for \(extraCount) slots")
        let clock = ContinuousClock()
        var requests: [Communicator.Request] = []
        requests.reserveCapacity(buckets.count)
        for (i, bucket) in buckets.enumerated() {
            for m in bucket.members {
                let destination = UnsafeMutableBufferPointer(rebasing: bucket.buffer[m.offset..<m.offset + m.parameter.count])
                if let grad = m.parameter.grad {
                    grad.withUnsafeBufferPointer { g in
                        for j in 0..<g.count { destination[j] = g[j] * scale }
                    }
                } else {
                    destination.update(repeating: 0)
                }
            }
            if i == buckets.count - 1 {
                for (j, e) in extra.enumerated() { bucket.buffer[bucket.buffer.count - extraCount + j] = e }
            }
            let t0 = clock.now
            requests.append(communicator.startSum(bucket.buffer))
            communicationSeconds += (clock.now - t0).seconds
        }
        for (i, bucket) in buckets.enumerated() {
            let t0 = clock.now
            communicator.wait(&requests[i])
            communicationSeconds += (clock.now - t0).seconds
            for m in bucket.members {
                let source = UnsafeBufferPointer(rebasing: bucket.buffer[m.offset..<m.offset + m.parameter.count])
                m.parameter.grad = Tensor(shape: m.parameter.shape) { _ = $0.update(fromContentsOf: source) }
            }
        }
        let last = buckets[buckets.count - 1].buffer
        return Array(last[(last.count - extraCount)...])
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) * 1e-18
    }
}
