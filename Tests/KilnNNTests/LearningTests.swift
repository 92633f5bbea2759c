import KilnNN
import Testing

/// End to end: a two-layer MLP learns XOR-like quadrants with plain SGD written here.
@Suite struct LearningTests {
    @Test func mlpLearnsXORQuadrants() {
        // Points in [-1, 1]², class 1 where x·y > 0; a margin around the axes keeps it separable.
        let g = RandomGenerator(seed: 7)
        var points: [Float] = [], labels: [Int32] = []
        while labels.count < 128 {
            let x = g.nextFloat() * 2 - 1, y = g.nextFloat() * 2 - 1
            if Swift.abs(x) < 0.1 || Swift.abs(y) < 0.1 { continue }
            points += [x, y]
            labels.append(x * y > 0 ? 1 : 0)
        }
        let inputs = Tensor(points, shape: [128, 2])
        let model = Sequential(Linear(2, 16, generator: RandomGenerator(seed: 8)), Tanh(),
                               Linear(16, 2, generator: RandomGenerator(seed: 9)))

        func accuracy() -> Double {
            let predicted = noGrad { model(inputs).argmax(axis: 1).scalars }
            return Double(zip(predicted, labels).filter { Int32($0) == $1 }.count) / Double(labels.count)
        }
        #expect(accuracy() < 0.8)  // not solved by the initialisation

        var losses: [Float] = []
        for _ in 0..<120 {
            let loss = crossEntropy(model(inputs), labels: labels)
            losses.append(loss.item)
            loss.backward()
            noGrad {
                for p in model.parameters() {
                    p.value.withUnsafeMutableBufferPointer { v in
                        p.grad!.withUnsafeBufferPointer { d in
                            for i in v.indices { v[i] -= 1.0 * d[i] }
                        }
                    }
                    p.zeroGrad()
                }
            }
        }
        #expect(losses.last! < 0.2 * losses.first!, "loss \(losses.first!) → \(losses.last!)")
        let acc = accuracy()
        #expect(acc >= 0.95, "accuracy \(acc)")
    }
}
