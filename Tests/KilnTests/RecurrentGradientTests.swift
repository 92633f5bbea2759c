import Kiln
import Testing

/// One gate block `k` (of width `h`) of `[B, n·h]` gates.
private func block(_ g: Tensor, _ k: Int, _ h: Int) -> Tensor { g.narrowed(axis: 1, start: k * h, length: h) }

/// The LSTM step by step with composed ops: the oracle of the fused sequence op.
private func composedLSTM(_ x: Tensor, _ wih: Tensor, _ whh: Tensor, _ bih: Tensor?, _ bhh: Tensor?,
                          h0: Tensor?, c0: Tensor?) -> (Tensor, Tensor, Tensor) {
    let (batch, time, hidden) = (x.shape[0], x.shape[1], whh.shape[1])
    var h = h0 ?? Tensor.zeros([batch, hidden]), c = c0 ?? Tensor.zeros([batch, hidden])
    var outs: [Tensor] = []
    for t in 0..<time {
        let g = linear(x.narrowed(axis: 1, start: t, length: 1).squeezed(axis: 1), weight: wih, bias: bih)
            + linear(h, weight: whh, bias: bhh)
        let (i, f) = (block(g, 0, hidden).sigmoid(), block(g, 1, hidden).sigmoid())
        let (z, o) = (block(g, 2, hidden).tanh(), block(g, 3, hidden).sigmoid())
        c = f * c + i * z
        h = o * c.tanh()
        outs.append(h)
    }
    return (Tensor.stack(outs, axis: 1), h, c)
}

/// The GRU step by step with composed ops (PyTorch's equations).
private func composedGRU(_ x: Tensor, _ wih: Tensor, _ whh: Tensor, _ bih: Tensor?, _ bhh: Tensor?,
                         h0: Tensor?) -> (Tensor, Tensor) {
    let (batch, time, hidden) = (x.shape[0], x.shape[1], whh.shape[1])
    var h = h0 ?? Tensor.zeros([batch, hidden])
    var outs: [Tensor] = []
    for t in 0..<time {
        let gi = linear(x.narrowed(axis: 1, start: t, length: 1).squeezed(axis: 1), weight: wih, bias: bih)
        let gh = linear(h, weight: whh, bias: bhh)
        let r = (block(gi, 0, hidden) + block(gh, 0, hidden)).sigmoid()
        let z = (block(gi, 1, hidden) + block(gh, 1, hidden)).sigmoid()
        let n = (block(gi, 2, hidden) + r * block(gh, 2, hidden)).tanh()
        h = (1 - z) * n + z * h
        outs.append(h)
    }
    return (Tensor.stack(outs, axis: 1), h)
}

/// Everything a recurrent op returns, flattened into one tensor for `gradCheck`.
private func joined(_ parts: [Tensor]) -> Tensor { Tensor.concatenate(parts.map { $0.reshaped([-1]) }) }

@Suite struct RecurrentGradientTests {
    // B 2, T 4, I 3, H 5: a partial SIMD block of hidden units.
    let x = random([2, 4, 3], seed: 1), h0 = random([2, 5], seed: 2), c0 = random([2, 5], seed: 3)

    @Test func lstmGradientsOfEveryInput() {
        let wih = random([20, 3], seed: 4), whh = random([20, 5], seed: 5)
        let bih = random([20], seed: 6), bhh = random([20], seed: 7)
        gradCheck([x, wih, whh, bih, bhh, h0, c0], "lstm: output and final state") {
            let r = lstm($0[0], weightIH: $0[1], weightHH: $0[2], biasIH: $0[3], biasHH: $0[4], h0: $0[5], c0: $0[6])
            return joined([r.output, r.h, r.c])
        }
        gradCheck([x, wih, whh], "lstm: output only, no bias, zero state") {
            lstm($0[0], weightIH: $0[1], weightHH: $0[2], biasIH: nil, biasHH: nil).output
        }
        gradCheck([x, whh, c0], "lstm: final cell state only") {
            lstm($0[0], weightIH: wih, weightHH: $0[1], biasIH: bih, biasHH: nil, h0: h0, c0: $0[2]).c
        }
        gradCheck([x, h0], "lstm: final hidden state only, one step") {
            lstm($0[0].narrowed(axis: 1, start: 1, length: 1), weightIH: wih, weightHH: whh, biasIH: bih, biasHH: bhh,
                 h0: $0[1]).h
        }
    }

    @Test func gruGradientsOfEveryInput() {
        let wih = random([15, 3], seed: 8), whh = random([15, 5], seed: 9)
        let bih = random([15], seed: 10), bhh = random([15], seed: 11)
        gradCheck([x, wih, whh, bih, bhh, h0], "gru: output and final state") {
            let r = gru($0[0], weightIH: $0[1], weightHH: $0[2], biasIH: $0[3], biasHH: $0[4], h0: $0[5])
            return joined([r.output, r.h])
        }
        gradCheck([x, wih, whh], "gru: output only, no bias, zero state") {
            gru($0[0], weightIH: $0[1], weightHH: $0[2], biasIH: nil, biasHH: nil).output
        }
        gradCheck([x, bhh, h0], "gru: final state only, input of a transposed view") {
            gru($0[0].transposed(0, 1).transposed(0, 1), weightIH: wih, weightHH: whh, biasIH: nil, biasHH: $0[1], h0: $0[2]).h
        }
    }

    /// Runs `f` on leaves made from `inputs` (nil stays nil), back-propagates `Σ outputs·weights`,
    /// and returns the outputs followed by every gradient.
    private func valuesAndGradients(_ inputs: [Tensor?], weights: [Tensor], _ f: ([Tensor?]) -> [Tensor]) -> [Tensor] {
        let leaves = inputs.map { $0?.requiringGrad() }
        let outs = f(leaves)
        zip(outs, weights).map { ($0 * $1).sum() }.reduce(Tensor(scalar: 0), +).backward()
        return outs.map { $0.detached() } + leaves.compactMap { $0?.grad }
    }

    @Test func fusedLSTMMatchesComposed() {
        // 16 × 270 units: the kernels split 17 blocks of units (the last 14 wide) across threads.
        // 7 and 270 units use the matrix product of `W_hh` as it is; 40 (a partial panel in backward,
        // 11 rows: 8-row blocks and single rows) and 64 the packed panels (see `RecurrentWeight`).
        for (batch, time, input, hidden, withState) in [(3, 5, 4, 7, true), (16, 3, 8, 270, false),
                                                        (11, 4, 5, 40, true), (16, 3, 6, 64, false)] {
            let x = random([batch, time, input], seed: 12, in: -2...2)
            // PyTorch's init range: pre-activations of order 1, as in training.
            let r = 1 / Float(hidden).squareRoot()
            let params = [random([4 * hidden, input], seed: 13, in: -r...r), random([4 * hidden, hidden], seed: 14, in: -r...r),
                          random([4 * hidden], seed: 15, in: -r...r), random([4 * hidden], seed: 16, in: -r...r)]
            let state: [Tensor?] = withState ? [random([batch, hidden], seed: 17), random([batch, hidden], seed: 18)] : [nil, nil]
            let weights = [random([batch, time, hidden], seed: 19), random([batch, hidden], seed: 20),
                           random([batch, hidden], seed: 21)]
            let inputs: [Tensor?] = [x] + params + state
            let fused = valuesAndGradients(inputs, weights: weights) { a in
                let r = lstm(a[0]!, weightIH: a[1]!, weightHH: a[2]!, biasIH: a[3], biasHH: a[4], h0: a[5], c0: a[6])
                return [r.output, r.h, r.c]
            }
            let composed = valuesAndGradients(inputs, weights: weights) { a in
                let r = composedLSTM(a[0]!, a[1]!, a[2]!, a[3], a[4], h0: a[5], c0: a[6])
                return [r.0, r.1, r.2]
            }
            #expect(fused.count == composed.count)
            let names = ["output", "h", "c", "dx", "dW_ih", "dW_hh", "db_ih", "db_hh", "dh0", "dc0"]
            for i in 0..<min(fused.count, composed.count) {
                expectClose(fused[i], composed[i], atol: 2e-5, rtol: 2e-4, "lstm H \(hidden): \(names[i])")
            }
        }
    }

    @Test func fusedGRUMatchesComposed() {
        for (batch, time, input, hidden, withState) in [(3, 5, 4, 7, true), (16, 3, 8, 270, false)] {
            let x = random([batch, time, input], seed: 22, in: -2...2)
            let r = 1 / Float(hidden).squareRoot()
            let params = [random([3 * hidden, input], seed: 23, in: -r...r), random([3 * hidden, hidden], seed: 24, in: -r...r),
                          random([3 * hidden], seed: 25, in: -r...r), random([3 * hidden], seed: 26, in: -r...r)]
            let state: [Tensor?] = [withState ? random([batch, hidden], seed: 27) : nil]
            let weights = [random([batch, time, hidden], seed: 28), random([batch, hidden], seed: 29)]
            let inputs: [Tensor?] = [x] + params + state
            let fused = valuesAndGradients(inputs, weights: weights) { a in
                let r = gru(a[0]!, weightIH: a[1]!, weightHH: a[2]!, biasIH: a[3], biasHH: a[4], h0: a[5])
                return [r.output, r.h]
            }
            let composed = valuesAndGradients(inputs, weights: weights) { a in
                let r = composedGRU(a[0]!, a[1]!, a[2]!, a[3], a[4], h0: a[5])
                return [r.0, r.1]
            }
            #expect(fused.count == composed.count)
            let names = ["output", "h", "dx", "dW_ih", "dW_hh", "db_ih", "db_hh", "dh0"]
            for i in 0..<min(fused.count, composed.count) {
                expectClose(fused[i], composed[i], atol: 2e-5, rtol: 2e-4, "gru H \(hidden): \(names[i])")
            }
        }
    }

    @Test func embeddedInputMatchesTheLookup() {
        // Repeated indices: a table row's gradient gathers every step that used it.
        let table = random([6, 3], seed: 32)
        // Steps 0 and 3 read one row for both batch rows.
        let indices: [Int32] = [4, 1, 4, 0, 4, 2, 5, 0]
        let lw = [random([20, 3], seed: 33), random([20, 5], seed: 34), random([20], seed: 35), random([20], seed: 36)]
        gradCheck([table] + lw + [h0], "lstm of embedded rows") {
            let r = lstm(embedding: $0[0], indices: indices, shape: [2, 4], weightIH: $0[1], weightHH: $0[2],
                         biasIH: $0[3], biasHH: $0[4], h0: $0[5])
            return joined([r.output, r.c])
        }
        let gw = [random([15, 3], seed: 37), random([15, 5], seed: 38), random([15], seed: 39)]
        gradCheck([table] + gw, "gru of embedded rows") {
            gru(embedding: $0[0], indices: indices, shape: [2, 4], weightIH: $0[1], weightHH: $0[2], biasIH: $0[3],
                biasHH: nil).output
        }
        // Against the lookup followed by the dense op, at a size where the kernels split.
        let big = random([40, 8], seed: 40, in: -2...2)
        let many = (0..<(16 * 3)).map { Int32(($0 * 7) % 40) }
        let r = 1 / Float(272).squareRoot()
        let p = [random([1088, 8], seed: 41, in: -r...r), random([1088, 272], seed: 42, in: -r...r),
                 random([1088], seed: 43, in: -r...r), random([1088], seed: 44, in: -r...r)]
        let w = random([16, 3, 272], seed: 45)
        let embedded = valuesAndGradients([big] + p, weights: [w]) { a in
            [lstm(embedding: a[0]!, indices: many, shape: [16, 3], weightIH: a[1]!, weightHH: a[2]!, biasIH: a[3], biasHH: a[4]).output]
        }
        let lookedUp = valuesAndGradients([big] + p, weights: [w]) { a in
            [lstm(a[0]!.indexSelect(many).reshaped([16, 3, 8]), weightIH: a[1]!, weightHH: a[2]!, biasIH: a[3], biasHH: a[4]).output]
        }
        for (i, name) in ["output", "dtable", "dW_ih", "dW_hh", "db_ih", "db_hh"].enumerated() {
            expectClose(embedded[i], lookedUp[i], atol: 2e-5, rtol: 2e-4, "embedded lstm: \(name)")
        }
    }

    @Test func noGraphUnderNoGrad() {
        let w = random([20, 5], seed: 30).requiringGrad()
        let r = noGrad { lstm(x, weightIH: random([20, 3], seed: 31), weightHH: w, biasIH: nil, biasHH: nil) }
        #expect(!r.output.requiresGrad && !r.h.requiresGrad && !r.c.requiresGrad)
        // The final state is the last step of the output.
        #expect(r.h.scalars == r.output.narrowed(axis: 1, start: 3, length: 1).scalars)
    }
}
