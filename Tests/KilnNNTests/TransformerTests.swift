import KilnNN
import Testing

@Suite struct TransformerTests {
    @Test func blockMatchesPyTorch() throws {
        let cases = try sequenceCases("seq_transformer.json")
        #expect(cases.count == 1)
        for c in cases {
            let block = TransformerBlock(width: c.width!, heads: c.heads!, bias: c.bias!)
            try expectMatchesFixture(block, c, atol: 5e-5, rtol: 2e-4)
        }
    }

    @Test func namesLikeNanoGPT() {
        let block = TransformerBlock(width: 8, heads: 2)
        #expect(block.namedParameters().map(\.0) == [
            "ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight", "attn.c_proj.bias",
            "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias",
        ])
        let noBias = TransformerBlock(width: 8, heads: 2, bias: false)
        #expect(noBias.namedParameters().map(\.0) == [
            "ln_1.weight", "attn.c_attn.weight", "attn.c_proj.weight", "ln_2.weight", "mlp.c_fc.weight", "mlp.c_proj.weight",
        ])
        #expect(noBias.mlp.expand.weight.shape == [32, 8] && noBias.mlp.project.weight.shape == [8, 32])
    }

    @Test func blockIsCausal() {
        let block = TransformerBlock(width: 8, heads: 2, generator: RandomGenerator(seed: 1))
        let x = random([1, 6, 8], seed: 2)
        let changed = Tensor.concatenate([x.narrowed(axis: 1, start: 0, length: 4), random([1, 2, 8], seed: 3)], axis: 1)
        let (a, b) = (block(x), block(changed))
        #expect(a.narrowed(axis: 1, start: 0, length: 4).scalars == b.narrowed(axis: 1, start: 0, length: 4).scalars)
        #expect(a.narrowed(axis: 1, start: 4, length: 2).scalars != b.narrowed(axis: 1, start: 4, length: 2).scalars)
    }

    @Test func blockGradientMatchesNumerical() {
        let block = TransformerBlock(width: 4, heads: 2, generator: RandomGenerator(seed: 4))
        gradCheck([random([2, 3, 4], seed: 5)], "transformer block input") { block($0[0]) }
    }
}
