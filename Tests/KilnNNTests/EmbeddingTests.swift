import KilnNN
import Testing

@Suite struct EmbeddingTests {
    @Test func initIsStandardNormal() {
        let e = Embedding(1000, 16, generator: RandomGenerator(seed: 1))
        #expect(e.weight.shape == [1000, 16] && e.count == 1000 && e.dimension == 16)
        let v = e.weight.value.scalars
        let mean = v.reduce(0, +) / Float(v.count)
        let std = (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(v.count)).squareRoot()
        #expect(Swift.abs(mean) < 0.03 && Swift.abs(std - 1) < 0.03)
        #expect(e.namedParameters().map(\.0) == ["weight"])
    }

    @Test func lookupShapesAndValues() {
        let e = Embedding(4, 3)
        e.weight.assign(Tensor((0..<12).map(Float.init), shape: [4, 3]))
        let y = e([3, 0, 1, 3], shape: [2, 2])
        #expect(y.shape == [2, 2, 3])
        #expect(y.scalars == [9, 10, 11, 0, 1, 2, 3, 4, 5, 9, 10, 11])
        // The Layer form: integer-valued Float indices.
        #expect(e(Tensor([3, 0, 1, 3], shape: [2, 2])).scalars == y.scalars)
    }

    @Test func repeatedIndicesAccumulate() {
        let e = Embedding(5, 2)
        let indices: [Int32] = [1, 3, 1, 1, 0, 3]
        let w = random([2, 3, 2], seed: 2)
        (e(indices, shape: [2, 3]) * w).sum().backward()
        var expected = [Float](repeating: 0, count: 10)
        let ws = w.scalars
        for (i, index) in indices.enumerated() {
            for j in 0..<2 { expected[Int(index) * 2 + j] += ws[i * 2 + j] }
        }
        expectClose(e.weight.grad!.scalars, expected, atol: 1e-6, "accumulated rows")
        // Rows never used get zeros.
        #expect(e.weight.grad!.scalars[4...5] == [0, 0] && e.weight.grad!.scalars[8...9] == [0, 0])
        gradCheck([random([5, 2], seed: 3)], "lookup with repeats") { $0[0].indexSelect(indices).reshaped([2, 3, 2]) }
    }

    @Test func tiedWeightsGetTheSumOfBothGradients() {
        // GPT's weight tying: the table embeds the tokens and projects back to logits.
        let e = Embedding(6, 4, generator: RandomGenerator(seed: 4))
        let indices: [Int32] = [2, 5, 2, 0, 1]
        let w = random([1, 5, 6], seed: 5)
        func loss(embedding: Tensor, projection: Tensor) -> Tensor {
            let x = embedding.indexSelect(indices).reshaped([1, 5, 4]).tanh()
            return (linear(x, weight: projection, bias: nil) * w).sum()
        }
        loss(embedding: e.weight.value, projection: e.weight.value).backward()
        let tied = e.weight.grad!
        // Each use alone.
        let a = e.weight.value.detached().requiringGrad(), b = e.weight.value.detached().requiringGrad()
        loss(embedding: a, projection: e.weight.value.detached()).backward()
        loss(embedding: e.weight.value.detached(), projection: b).backward()
        expectClose(tied.scalars, (a.grad! + b.grad!).scalars, atol: 1e-6, "tied = embedding + projection")
        #expect(a.grad!.scalars.contains { $0 != 0 } && b.grad!.scalars.contains { $0 != 0 })
        gradCheck([e.weight.value.detached()], "tied weights") { loss(embedding: $0[0], projection: $0[0]) }
        // A tied parameter is listed once, so an optimizer updates it once.
        final class Tied: Module {
            let wte: Embedding
            let lmHead: Parameter
            init(_ e: Embedding) { wte = e; lmHead = e.weight; super.init() }
        }
        #expect(Tied(e).parameters().count == 1)
    }
}
