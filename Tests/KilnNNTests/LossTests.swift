import KilnNN
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct LossTests {
    @Test func mseByHand() {
        let loss = mseLoss(Tensor([1, 2, 3]), Tensor([1, 0, 5]))
        #expect(loss.shape == [])
        #expect(Swift.abs(loss.item - 8.0 / 3) < 1e-6)
        let p = Tensor([1, 2, 3]).requiringGrad()
        mseLoss(p, Tensor([1, 0, 5])).backward()
        expectClose(p.grad!.scalars, [0, 4.0 / 3, -4.0 / 3], "gradient 2(p − t)/n")
        gradCheck([random([3, 4], seed: 1), random([3, 4], seed: 2)], "mseLoss") { mseLoss($0[0], $0[1]) }
    }

    /// −[t·log σ(x) + (1 − t)·log(1 − σ(x))] in Double, averaged.
    private func bceReference(_ x: [Float], _ t: [Float]) -> Double {
        zip(x, t).map { x, t in
            let x = Double(x), t = Double(t)
            // log σ(x) = −log(1 + e^−x), log(1 − σ(x)) = −x − log(1 + e^−x).
            let logSig = -log1p(exp(-x)), log1mSig = -x - log1p(exp(-x))
            return -(t * logSig + (1 - t) * log1mSig)
        }.reduce(0, +) / Double(x.count)
    }

    @Test func bceWithLogitsByHand() {
        let x: [Float] = [-3, -0.5, 0.25, 2, 4], t: [Float] = [0, 1, 0.3, 1, 0]
        let loss = binaryCrossEntropyWithLogits(Tensor(x), Tensor(t))
        #expect(Swift.abs(Double(loss.item) - bceReference(x, t)) < 1e-6)
        // Large logits stay finite and exact: the loss is |x| when the sign is wrong.
        let big = binaryCrossEntropyWithLogits(Tensor([100, -100, 100]), Tensor([0, 1, 1]))
        #expect(Swift.abs(big.item - 200.0 / 3) < 1e-3)
    }

    @Test func bceWithLogitsGradient() {
        // d/dx = (σ(x) − t) / n.
        let x: [Float] = [-3, -0.5, 0.25, 2, 4], t: [Float] = [0, 1, 0.3, 1, 0]
        let logits = Tensor(x).requiringGrad()
        binaryCrossEntropyWithLogits(logits, Tensor(t)).backward()
        expectClose(logits.grad!.scalars, zip(x, t).map { (1 / (1 + expf(-$0)) - $1) / 5 }, atol: 1e-7, "gradient")
        gradCheck([random([2, 5], seed: 3, in: -3...3)], "bce in logits") {
            binaryCrossEntropyWithLogits($0[0], Tensor([0, 1, 1, 0, 0.5, 1, 0, 0.2, 1, 1], shape: [2, 5]))
        }
        gradCheck([random([4], seed: 4, in: 0...1)], "bce in targets") {
            binaryCrossEntropyWithLogits(Tensor([1.5, -2, 0.3, 3]), $0[0])
        }
    }

    @Test func bceGradientAtZeroLogits() {
        // A zero-initialised output layer gives logits exactly 0: the gradient is σ(0) − t = 0.5 − t
        // there, not the value of one side of a kink.
        let logits = Tensor.zeros([4]).requiringGrad()
        binaryCrossEntropyWithLogits(logits, Tensor([0, 1, 0.5, 1])).backward()
        expectClose(logits.grad!.scalars, [0.5, -0.5, 0, -0.5].map { $0 / 4 }, "gradient at 0")
    }

    @Test func crossEntropyLossIsTheFusedOp() {
        let x = random([3, 4], seed: 5, in: -2...2)
        #expect(crossEntropyLoss(x, [1, 3, 0]).item == crossEntropy(x, labels: [1, 3, 0]).item)
        #expect(crossEntropyLoss(x, [1, 3, 0], labelSmoothing: 0.1).item
                == crossEntropy(x, labels: [1, 3, 0], labelSmoothing: 0.1).item)
        gradCheck([x], "crossEntropyLoss") { crossEntropyLoss($0[0], [1, 3, 0], labelSmoothing: 0.05) }
    }
}
