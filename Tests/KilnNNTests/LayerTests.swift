import KilnNN
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct LayerTests {
    @Test func linearInitSpreadsOverPlusMinusOneOverRootIn() {
        let layer = Linear(100, 300, generator: RandomGenerator(seed: 1))
        let bound: Float = 1 / 10
        let w = layer.weight.value.scalars, b = layer.bias!.value.scalars
        #expect(layer.weight.shape == [300, 100] && layer.bias!.shape == [300])
        #expect(w.allSatisfy { Swift.abs($0) <= bound })
        #expect(b.allSatisfy { Swift.abs($0) <= bound })
        // Spread across the whole interval, centred.
        #expect(w.min()! < -0.099 && w.max()! > 0.099)
        #expect(b.min()! < -0.09 && b.max()! > 0.09)
        #expect(Swift.abs(w.reduce(0, +) / Float(w.count)) < 0.002)
        let quarter = w.filter { $0 > 0.05 }.count
        #expect(Swift.abs(Double(quarter) / Double(w.count) - 0.25) < 0.01)
        // Parameters require gradients.
        #expect(layer.weight.value.requiresGrad)
    }

    @Test func linearForwardMatchesTheFormula() {
        let layer = Linear(3, 2, generator: RandomGenerator(seed: 2))
        layer.weight.assign(Tensor([1, 2, 3, -1, 0, 1], shape: [2, 3]))
        layer.bias!.assign(Tensor([0.5, -0.5]))
        let x = Tensor([1, 1, 1, 2, 0, -1], shape: [2, 3])
        #expect(layer(x).scalars == [6.5, -0.5, -0.5, -3.5])
        // Any leading axes.
        #expect(layer(x.reshaped([2, 1, 3])).shape == [2, 1, 2])
        #expect(layer(Tensor([1, 1, 1])).scalars == [6.5, -0.5])
        let noBias = Linear(3, 2, bias: false)
        noBias.weight.assign(layer.weight.value)
        #expect(noBias(x).scalars == [6, 0, -1, -3])
        #expect(noBias.parameters().count == 1)
    }

    @Test func linearGradients() {
        let layer = Linear(4, 3, generator: RandomGenerator(seed: 3))
        let x = random([5, 4], seed: 4)
        let y = layer(x.requiringGrad())
        (y * y).sum().backward()
        // d/dW Σ y² = 2·yᵀ·x, d/db = 2·Σ_rows y.
        let expectedW = (y.detached() * 2).transposed().matmul(x)
        expectClose(layer.weight.grad!.scalars, expectedW.scalars, atol: 1e-5, "weight")
        expectClose(layer.bias!.grad!.scalars, (y.detached() * 2).sum(axis: 0).scalars, atol: 1e-5, "bias")
    }

    @Test func activations() {
        let x = Tensor([-2, -0.5, 0.5, 2])
        #expect(ReLU()(x).scalars == [0, 0, 0.5, 2])
        expectClose(Tanh()(x).scalars, x.scalars.map { tanhf($0) }, "tanh")
        expectClose(Sigmoid()(x).scalars, x.scalars.map { 1 / (1 + expf(-$0)) }, "sigmoid")
        expectClose(GELU()(x).scalars, x.scalars.map { 0.5 * $0 * (1 + erff($0 / Float(2).squareRoot())) }, "gelu")
        expectClose(GELU(approximate: true)(x).scalars, x.gelu(approximate: true).scalars, "gelu tanh")
        #expect(Flatten()(Tensor.zeros([2, 3, 4])).shape == [2, 12])
    }

    @Test func sequentialComposes() {
        let l1 = Linear(3, 4, generator: RandomGenerator(seed: 5)), l2 = Linear(4, 2, generator: RandomGenerator(seed: 6))
        let model = Sequential(layers: [l1, ReLU(), l2])
        let x = random([5, 3], seed: 7)
        #expect(model(x).scalars == l2(l1(x).relu()).scalars)
    }
}

@Suite struct InitTests {
    @Test func fans() {
        #expect(Init.fans([30, 20]) == (20, 30))
        #expect(Init.fans([8, 4, 3, 3]) == (36, 72))
    }

    @Test func kaimingUniformBounds() {
        let w = Init.kaimingUniform([64, 128], generator: RandomGenerator(seed: 1)).scalars
        let bound = (6 / Float(128)).squareRoot()  // √2 · √(3 / fan_in)
        #expect(w.allSatisfy { Swift.abs($0) <= bound })
        #expect(w.min()! < -0.98 * bound && w.max()! > 0.98 * bound)
        // With a = √5 (PyTorch's Linear default) the bound is 1/√fan_in.
        let v = Init.kaimingUniform([16, 25], a: Float(5).squareRoot(), generator: RandomGenerator(seed: 2)).scalars
        #expect(v.allSatisfy { Swift.abs($0) <= 0.2 + 1e-6 } && v.max()! > 0.19)
        // Convolution weights: fan_in counts the kernel.
        let c = Init.kaimingUniform([8, 4, 3, 3], generator: RandomGenerator(seed: 3)).scalars
        let cBound = (6 / Float(36)).squareRoot()
        #expect(c.allSatisfy { Swift.abs($0) <= cBound } && c.max()! > 0.95 * cBound)
    }

    @Test func xavierUniformBounds() {
        let w = Init.xavierUniform([30, 20], generator: RandomGenerator(seed: 4)).scalars
        let bound = (6 / Float(50)).squareRoot()
        #expect(w.allSatisfy { Swift.abs($0) <= bound })
        #expect(w.min()! < -0.95 * bound && w.max()! > 0.95 * bound)
        let g = Init.xavierUniform([30, 20], gain: 2, generator: RandomGenerator(seed: 4)).scalars
        #expect(zip(g, w).allSatisfy { Swift.abs($0 - 2 * $1) < 1e-6 })
    }

    @Test func kaimingNormalStd() {
        let w = Init.kaimingNormal([200, 50], generator: RandomGenerator(seed: 5))
        let std = w.variance().item.squareRoot()
        #expect(Swift.abs(std - (2 / Float(50)).squareRoot()) < 0.01)
        #expect(Swift.abs(w.mean().item) < 0.01)
    }
}
