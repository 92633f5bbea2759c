import Kiln
import Testing

@Suite struct SoftmaxGradientTests {
    @Test func softmaxAndLogSoftmax() {
        let x = random([3, 5], seed: 1, in: -2...2)
        gradCheck([x], "softmax last axis") { $0[0].softmax() }
        gradCheck([x], "logSoftmax last axis") { $0[0].logSoftmax(axis: -1) }
        gradCheck([x], "softmax axis 0") { $0[0].softmax(axis: 0) }
        let y = random([2, 4, 3], seed: 2, in: -2...2)
        gradCheck([y], "softmax middle axis") { $0[0].softmax(axis: 1) }
        gradCheck([y], "logSoftmax middle axis") { $0[0].logSoftmax(axis: 1) }
        // Non-contiguous input.
        gradCheck([random([5, 3], seed: 3, in: -2...2)], "softmax of a transposed view") { $0[0].transposed().softmax() }
        gradCheck([random([3, 7], seed: 4, in: -2...2)], "logSoftmax of a slice") {
            $0[0].narrowed(axis: 1, start: 1, length: 5).logSoftmax()
        }
    }

    @Test func crossEntropyGradient() {
        let labels: [Int32] = [2, 0, 4, 2]
        let x = random([4, 5], seed: 5, in: -2...2)
        gradCheck([x], "crossEntropy") { crossEntropy($0[0], labels: labels) }
        gradCheck([x], "crossEntropy, smoothing 0.1") { crossEntropy($0[0], labels: labels, labelSmoothing: 0.1) }
        gradCheck([random([5, 4], seed: 6, in: -2...2)], "crossEntropy of a transposed view") {
            crossEntropy($0[0].transposed(), labels: labels, labelSmoothing: 0.2)
        }
        // The loss scaled afterwards: the incoming gradient is not 1.
        gradCheck([x], "3 · crossEntropy") { crossEntropy($0[0], labels: labels) * 3 }
    }

    @Test func indexSelectAndGather() {
        let table = random([4, 3], seed: 7)
        // Index 2 three times: its row's gradient is the sum of three output rows.
        gradCheck([table], "indexSelect with repeats") { $0[0].indexSelect([2, 0, 2, 3, 2]) }
        gradCheck([random([4, 2, 3], seed: 8)], "indexSelect of 3-D rows") { $0[0].indexSelect([1, 1, 3]) }
        gradCheck([random([3, 4], seed: 9)], "indexSelect of a transposed view") { $0[0].transposed().indexSelect([0, 3, 0]) }
        gradCheck([random([4, 5], seed: 10)], "gather") { $0[0].gather([1, 4, 0, 1]) }
        gradCheck([random([5, 4], seed: 11)], "gather of a transposed view") { $0[0].transposed().gather([1, 4, 0, 1]) }

        let t = Tensor([1, 2, 3, 4, 5, 6], shape: [3, 2]).requiringGrad()
        t.indexSelect([2, 2, 0]).sum().backward()
        #expect(t.grad?.scalars == [1, 1, 0, 0, 2, 2])
    }

    @Test func dropoutGradientIsTheMask() {
        let x = random([6, 5], seed: 12)
        // A fresh generator with the same seed draws the same mask on every evaluation.
        gradCheck([x], "dropout p=0.4") { $0[0].dropout(p: 0.4, generator: RandomGenerator(seed: 5)) }
        gradCheck([random([5, 6], seed: 13)], "dropout of a transposed view") {
            $0[0].transposed().dropout(p: 0.3, generator: RandomGenerator(seed: 6))
        }

        let leaf = x.requiringGrad()
        leaf.dropout(p: 0.4, generator: RandomGenerator(seed: 5)).sum().backward()
        let mask = Tensor.ones([6, 5]).dropout(p: 0.4, generator: RandomGenerator(seed: 5))
        #expect(leaf.grad?.scalars == mask.scalars)
        #expect(Set(mask.scalars) == [0, 1 / (1 - 0.4)])
    }
}
