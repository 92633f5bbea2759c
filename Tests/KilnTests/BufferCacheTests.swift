import Kiln
import KilnCompute
import Testing

/// A steady training step takes every buffer from the cache: nothing new from the system.
@Suite struct BufferCacheTests {
    @Test func steadyTrainingStepAllocatesNothingNew() {
        let w1 = Parameter(random([16, 8], seed: 1)), b1 = Parameter(random([16], seed: 2))
        let w2 = Parameter(random([3, 16], seed: 3))
        let parameters = [w1, b1, w2]
        let x = random([32, 8], seed: 4)
        let labels = (0..<32).map { Int32($0 % 3) }
        let generator = RandomGenerator(seed: 5)

        func step() {
            let h = linear(x, weight: w1.value, bias: b1.value).relu().dropout(p: 0.1, generator: generator)
            let logits = linear(h, weight: w2.value, bias: nil)
            let loss = crossEntropy(logits, labels: labels)
                + logits.softmax(axis: 0).square().mean()
                + h.transposed().matmul(h).sum() * 1e-4
                + h.variance(axes: [0]).max()
            loss.backward()
            noGrad {
                for p in parameters {
                    p.value.withUnsafeMutableBufferPointer { v in
                        p.grad!.withUnsafeBufferPointer { g in
                            for i in v.indices { v[i] -= 0.01 * g[i] }
                        }
                    }
                    p.zeroGrad()
                }
            }
        }

        for _ in 0..<3 { step() }  // warm-up: the cache fills with this step's sizes
        // Other tests allocate concurrently, and may take a freed buffer this step wanted, so
        // a step may be charged for allocations that are not its own. System allocations only
        // ever grow: one clean step proves the step itself allocates nothing.
        var clean = false
        for _ in 0..<100 where !clean {
            let before = BufferCache.shared.systemAllocations
            step()
            clean = BufferCache.shared.systemAllocations == before
        }
        #expect(clean, "every measured step allocated new buffers from the system")
    }

    @Test func releasedTensorsReturnTheirBuffers() {
        // An unusual size, so that no other test wants this bucket.
        var pointers: Set<UnsafeMutablePointer<Float>> = []
        for _ in 0..<5 {
            let t = Tensor.zeros([17, 727])
            pointers.insert(t.storage.pointer)
        }
        // Each tensor was released before the next was made: the buffer came back every time.
        #expect(pointers.count == 1)
    }
}
