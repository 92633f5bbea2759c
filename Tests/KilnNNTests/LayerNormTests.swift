import KilnNN
import Testing

@Suite struct LayerNormTests {
    @Test func matchesPyTorch() throws {
        let cases = try sequenceCases("seq_layernorm.json")
        #expect(cases.count == 2)
        for c in cases {
            try expectMatchesFixture(LayerNorm(c.features!, bias: c.bias!), c)
        }
    }

    @Test func initAndNames() {
        let norm = LayerNorm(6)
        #expect(norm.weight.value.scalars == [Float](repeating: 1, count: 6))
        #expect(norm.bias?.value.scalars == [Float](repeating: 0, count: 6))
        #expect(norm.namedParameters().map(\.0) == ["weight", "bias"])
        #expect(LayerNorm(6, bias: false).namedParameters().map(\.0) == ["weight"])
    }

    @Test func normalizesEachPosition() {
        let norm = LayerNorm(5, epsilon: 0)
        let y = norm(random([3, 4, 5], seed: 1, in: -3...3) * 7 + 2)
        #expect(y.shape == [3, 4, 5])
        let mean = y.mean(axis: -1), variance = y.variance(axes: [-1], correction: 0)
        expectClose(mean.scalars, [Float](repeating: 0, count: 12), atol: 1e-6, "means")
        expectClose(variance.scalars, [Float](repeating: 1, count: 12), atol: 1e-5, "variances")
    }
}
