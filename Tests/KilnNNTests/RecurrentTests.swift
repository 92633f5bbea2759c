import KilnNN
import Testing

@Suite struct RecurrentTests {
    @Test func lstmMatchesPyTorch() throws {
        let c = try #require(try sequenceCases("seq_lstm.json").first)
        let (input, hidden) = (c.inputSize!, c.hiddenSize!)
        let lstm = LSTM(inputSize: input, hiddenSize: hidden)
        try lstm.load(c.state)
        let x = c.input.tensor.requiringGrad()
        let (batch, time) = (x.shape[0], x.shape[1])
        // PyTorch's [1, B, H] state shape is accepted as well as [B, H].
        let h0 = Tensor(c.h0!.map(Float.init), shape: [1, batch, hidden]).requiringGrad()
        let c0 = Tensor(c.c0!.map(Float.init), shape: [batch, hidden]).requiringGrad()
        let (out, state) = lstm(x, state: (h0, c0))
        let loss = (out * c.outputWeights([batch, time, hidden])).sum()
            + (state.h * Tensor(c.wh!.map(Float.init), shape: [batch, hidden])).sum()
            + (state.c * Tensor(c.wc!.map(Float.init), shape: [batch, hidden])).sum()
        loss.backward()
        func check(_ a: Tensor?, _ e: [Double]?, _ what: String) {
            expectClose(a?.scalars ?? [], (e ?? []).map(Float.init), atol: 1e-5, rtol: 1e-4, "lstm: \(what)")
        }
        check(out, c.output, "output")
        check(state.h, c.h, "final h")
        check(state.c, c.c, "final c")
        check(x.grad, c.inputGrad, "input gradient")
        check(h0.grad, c.h0Grad, "h0 gradient")
        check(c0.grad, c.c0Grad, "c0 gradient")
        #expect(h0.grad?.shape == [1, batch, hidden])
        for (name, p) in lstm.namedParameters() { check(p.grad, c.paramGrads[name], "gradient of \(name)") }
    }

    @Test func gruMatchesPyTorch() throws {
        let c = try #require(try sequenceCases("seq_gru.json").first)
        let (input, hidden) = (c.inputSize!, c.hiddenSize!)
        let gru = GRU(inputSize: input, hiddenSize: hidden)
        try gru.load(c.state)
        let x = c.input.tensor.requiringGrad()
        let (batch, time) = (x.shape[0], x.shape[1])
        let h0 = Tensor(c.h0!.map(Float.init), shape: [batch, hidden]).requiringGrad()
        let (out, h) = gru(x, state: h0)
        let loss = (out * c.outputWeights([batch, time, hidden])).sum()
            + (h * Tensor(c.wh!.map(Float.init), shape: [batch, hidden])).sum()
        loss.backward()
        func check(_ a: Tensor?, _ e: [Double]?, _ what: String) {
            expectClose(a?.scalars ?? [], (e ?? []).map(Float.init), atol: 1e-5, rtol: 1e-4, "gru: \(what)")
        }
        check(out, c.output, "output")
        check(h, c.h, "final h")
        check(x.grad, c.inputGrad, "input gradient")
        check(h0.grad, c.h0Grad, "h0 gradient")
        for (name, p) in gru.namedParameters() { check(p.grad, c.paramGrads[name], "gradient of \(name)") }
    }

    @Test func namesShapesAndInit() {
        let lstm = LSTM(inputSize: 3, hiddenSize: 64, generator: RandomGenerator(seed: 1))
        #expect(lstm.namedParameters().map(\.0) == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"])
        #expect(lstm.parameters().map(\.shape) == [[256, 3], [256, 64], [256], [256]])
        let gru = GRU(inputSize: 3, hiddenSize: 64, generator: RandomGenerator(seed: 2))
        #expect(gru.namedParameters().map(\.0) == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"])
        #expect(gru.parameters().map(\.shape) == [[192, 3], [192, 64], [192], [192]])
        // U(±1/√H), spread over the whole interval.
        for p in lstm.parameters() + gru.parameters() {
            let v = p.value.scalars
            #expect(v.allSatisfy { Swift.abs($0) <= 0.125 })
            #expect(v.max()! > 0.1 && v.min()! < -0.1)
        }
    }

    @Test func embeddingInputEqualsTheLookup() {
        let embedding = Embedding(10, 4, generator: RandomGenerator(seed: 6))
        let lstm = LSTM(inputSize: 4, hiddenSize: 6, generator: RandomGenerator(seed: 7))
        let gru = GRU(inputSize: 4, hiddenSize: 6, generator: RandomGenerator(seed: 8))
        let tokens: [Int32] = [3, 9, 3, 0, 1, 3, 7, 2]
        func gradients(_ loss: () -> Tensor) -> [[Float]] {
            for m in [embedding, lstm, gru] as [Module] { m.zeroGrad() }
            loss().backward()
            return (embedding.parameters() + lstm.parameters() + gru.parameters()).map { $0.grad?.scalars ?? [] }
        }
        let w = random([2, 4, 6], seed: 9)
        let fused = gradients {
            (lstm(tokens, shape: [2, 4], embedding: embedding).output * w).sum()
                + (gru(tokens, shape: [2, 4], embedding: embedding).output * w).sum()
        }
        let composed = gradients {
            let x = embedding(tokens, shape: [2, 4])
            return (lstm(x).output * w).sum() + (gru(x).output * w).sum()
        }
        for (a, b) in zip(fused, composed) { expectClose(a, b, atol: 1e-6, rtol: 1e-5, "gradients") }
        expectClose(lstm(tokens, shape: [2, 4], embedding: embedding).output.scalars,
                    lstm(embedding(tokens, shape: [2, 4])).output.scalars, atol: 1e-6, "lstm output")
    }

    @Test func statesContinueASequence() {
        // Running two halves with the state carried over equals running the whole sequence.
        let lstm = LSTM(inputSize: 4, hiddenSize: 6, generator: RandomGenerator(seed: 3))
        let gru = GRU(inputSize: 4, hiddenSize: 6, generator: RandomGenerator(seed: 4))
        let x = random([2, 7, 4], seed: 5)
        let first = x.narrowed(axis: 1, start: 0, length: 3), second = x.narrowed(axis: 1, start: 3, length: 4)
        let whole = lstm(x), a = lstm(first), b = lstm(second, state: a.state)
        expectClose(b.output.scalars, whole.output.narrowed(axis: 1, start: 3, length: 4).scalars, atol: 1e-6, "lstm halves")
        expectClose(b.state.c.scalars, whole.state.c.scalars, atol: 1e-6, "lstm final c")
        let gWhole = gru(x), ga = gru(first), gb = gru(second, state: ga.state)
        expectClose(gb.output.scalars, gWhole.output.narrowed(axis: 1, start: 3, length: 4).scalars, atol: 1e-6, "gru halves")
    }
}
