import Foundation
import KilnNN
import Testing

// MARK: sequence fixtures (shared by the sequence-layer suites)

/// One case of a `seq_*.json` fixture written by Scripts/make_sequence_fixtures.py: a module's
/// state dict, an input, the weights `w` of the loss `Σ output·w` (plus `wh`, `wc` on the final
/// states of recurrent layers) and PyTorch's output and gradients, computed in float64.
struct SequenceCase: Decodable, CustomTestStringConvertible {
    struct Values: Decodable {
        var shape: [Int]
        var values: [Double]
        var tensor: Tensor { Tensor(values.map(Float.init), shape: shape) }
    }

    var name: String
    var state: [String: Values]
    var input: Values
    var w: [Double]
    var output: [Double]
    var inputGrad: [Double]
    var paramGrads: [String: [Double]]
    // Layer settings, by layer kind.
    var width: Int?, heads: Int?, causal: Bool?, bias: Bool?, features: Int?
    var inputSize: Int?, hiddenSize: Int?
    // Recurrent layers: initial state, loss weights and values of the final state, its gradients.
    var h0: [Double]?, c0: [Double]?, wh: [Double]?, wc: [Double]?, h: [Double]?, c: [Double]?
    var h0Grad: [Double]?, c0Grad: [Double]?

    var testDescription: String { name }

    /// The loss weights of the output, shaped like it.
    func outputWeights(_ shape: [Int]) -> Tensor { Tensor(w.map(Float.init), shape: shape) }
}

/// The cases of `Fixtures/<file>`.
func sequenceCases(_ file: String) throws -> [SequenceCase] {
    struct File: Decodable { var cases: [SequenceCase] }
    let folder = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil),
                              "the Fixtures folder is missing from the test bundle")
    let data = try Data(contentsOf: folder.appendingPathComponent(file))
    return try JSONDecoder().decode(File.self, from: data).cases
}

extension Module {
    /// Loads a fixture's state dict (PyTorch's names) into the parameters.
    func load(_ state: [String: SequenceCase.Values]) throws {
        try loadStateDict(state.mapValues(\.tensor))
    }
}

/// Compares a feed-forward layer with a fixture case: output, input gradient and every parameter
/// gradient under its PyTorch name.
func expectMatchesFixture(_ layer: some Layer, _ c: SequenceCase, atol: Float = 2e-5, rtol: Float = 1e-4,
                          sourceLocation: SourceLocation = #_sourceLocation) throws {
    try layer.load(c.state)
    layer.zeroGrad()
    let x = c.input.tensor.requiringGrad()
    let y = layer(x)
    (y * c.outputWeights(y.shape)).sum().backward()
    let expect = { (a: [Float], e: [Double], what: String) in
        expectClose(a, e.map(Float.init), atol: atol, rtol: rtol, "\(c.name): \(what)", sourceLocation: sourceLocation)
    }
    expect(y.scalars, c.output, "output")
    expect(x.grad?.scalars ?? [], c.inputGrad, "input gradient")
    let named = layer.namedParameters()
    #expect(Set(named.map(\.0)) == Set(c.paramGrads.keys), "\(c.name): parameter names", sourceLocation: sourceLocation)
    for (name, p) in named {
        expect(p.grad?.scalars ?? [], c.paramGrads[name] ?? [], "gradient of \(name)")
    }
}

// MARK: -

@Suite struct AttentionTests {
    @Test func matchesPyTorch() throws {
        let cases = try sequenceCases("seq_attention.json")
        #expect(cases.count == 3)
        for c in cases {
            let layer = MultiHeadSelfAttention(width: c.width!, heads: c.heads!, causal: c.causal!)
            try expectMatchesFixture(layer, c)
        }
    }

    @Test func namesLikeNanoGPT() {
        let layer = MultiHeadSelfAttention(width: 8, heads: 2)
        #expect(layer.namedParameters().map(\.0) == ["c_attn.weight", "c_attn.bias", "c_proj.weight", "c_proj.bias"])
        #expect(layer.qkvProjection.weight.shape == [24, 8] && layer.outputProjection.weight.shape == [8, 8])
        let noBias = MultiHeadSelfAttention(width: 8, heads: 4, bias: false)
        #expect(noBias.namedParameters().map(\.0) == ["c_attn.weight", "c_proj.weight"])
    }

    @Test func composedPathAgreesWithTheFusedKernel() {
        let qkv = random([2, 9, 24], seed: 1)
        for causal in [true, false] {
            let fused = selfAttention(qkv, heads: 2, causal: causal)
            let composed = composedSelfAttention(qkv, heads: 2, causal: causal)
            expectClose(fused.scalars, composed.scalars, atol: 1e-6, "causal \(causal)")
        }
    }

    @Test func dropoutOnlyInTraining() {
        let layer = MultiHeadSelfAttention(width: 8, heads: 2, dropout: 0.5, generator: RandomGenerator(seed: 2))
        let x = random([2, 5, 8], seed: 3)
        let train = layer(x)
        layer.eval()
        let eval = layer(x)
        let reference = layer.outputProjection(selfAttention(layer.qkvProjection(x), heads: 2, causal: true))
        #expect(eval.scalars == reference.scalars)
        #expect(train.scalars != eval.scalars)
        // With dropout the composed path still gives gradients to every parameter.
        layer.train()
        (layer(x.requiringGrad()) * random([2, 5, 8], seed: 4)).sum().backward()
        #expect(layer.parameters().allSatisfy { $0.grad != nil })
    }
}
