import KilnCompute

// GRU over a whole sequence as one autograd node (see Tensor+Recurrent.swift for the scheme and
// the helpers shared with the LSTM).

/// Gated recurrent unit over a batch-first sequence `x` `[B, T, I]`, PyTorch's equations and gate
/// order (r, z, n): `n = tanh(W_in·x + b_in + r ⊙ (W_hn·h + b_hn))`, `h' = (1 − z) ⊙ n + z ⊙ h`.
/// `weightIH` `[3H, I]`, `weightHH` `[3H, H]`, biases `[3H]` (optional), `h0` `[B, H]` (nil: zeros).
///
/// Returns every step's hidden state `[B, T, H]` and the final `h` `[B, H]`; one autograd node.
public func gru(_ x: Tensor, weightIH: Tensor, weightHH: Tensor, biasIH: Tensor?, biasHH: Tensor?,
                h0: Tensor? = nil) -> (output: Tensor, h: Tensor) {
    precondition(x.rank == 3 && x.shape[1] > 0, "gru: input must be [batch, time > 0, features], got \(x.shape)")
    return gru(.dense(x.contiguous()), batch: x.shape[0], time: x.shape[1], weightIH: weightIH, weightHH: weightHH,
               biasIH: biasIH, biasHH: biasHH, h0: h0)
}

/// `gru` of the embedding rows `table[indices]` (`shape` = `[B, T]`), with the input projection
/// computed once per table row (see `lstm(embedding:indices:shape:…)`).
public func gru(embedding table: Tensor, indices: [Int32], shape: [Int], weightIH: Tensor, weightHH: Tensor,
                biasIH: Tensor?, biasHH: Tensor?, h0: Tensor? = nil) -> (output: Tensor, h: Tensor) {
    let input = embeddedInput("gru", table, indices, shape)
    return gru(input, batch: shape[0], time: shape[1], weightIH: weightIH, weightHH: weightHH,
               biasIH: biasIH, biasHH: biasHH, h0: h0)
}

private func gru(_ input: SequenceInput, batch: Int, time: Int, weightIH: Tensor, weightHH: Tensor,
                 biasIH: Tensor?, biasHH: Tensor?, h0: Tensor?) -> (output: Tensor, h: Tensor) {
    let source = input.source
    let hidden = weightHH.shape.last ?? 0
    checkWeights("gru", gates: 3, input: source.shape.last!, hidden: hidden, weightIH, weightHH, biasIH, biasHH)
    let g3 = 3 * hidden
    let wih = weightIH.contiguous(), whh = weightHH.contiguous()
    let bih = biasIH?.contiguous(), bhh = biasHH?.contiguous()
    let h0c = initialState(h0, batch: batch, hidden: hidden, "gru", "h0")
    let backend = source.backend

    // x·W_ihᵀ + b_ih for every step; h·W_hhᵀ + b_hh per step (kept: r multiplies its n part).
    let gates = input.projected(wih, bias: bih, batch: batch, time: time)
    let hiddenGates = buffer(like: source, [batch, time, g3], bias: bhh)
    let out = source.empty([batch, time, hidden])
    let step = time * hidden, gateStep = time * g3
    for t in 0..<time {
        let beta: Float = bhh == nil ? 0 : 1
        if t > 0 {
            gemm(transB: true, m: batch, n: g3, k: hidden, beta: beta, out, (t - 1) * hidden, lda: step,
                 whh, ldb: hidden, hiddenGates, t * g3, ldc: gateStep)
        } else if let h0c {
            gemm(transB: true, m: batch, n: g3, k: hidden, beta: beta, h0c, lda: hidden, whh, ldb: hidden,
                 hiddenGates, ldc: gateStep)
        } else if bhh == nil {
            backend.fill(hiddenGates.matrix(batch, g3, stride: gateStep), value: 0)
        }
        backend.gruCell(batch: batch, hidden: hidden, gates: gates.matrix(batch, g3, stride: gateStep, at: t * g3),
                        hiddenGates: hiddenGates.matrix(batch, g3, stride: gateStep, at: t * g3),
                        hPrev: t == 0 ? h0c?.matrix(batch, hidden, stride: hidden)
                                      : out.matrix(batch, hidden, stride: step, at: (t - 1) * hidden),
                        h: out.matrix(batch, hidden, stride: step, at: t * hidden))
    }

    let optional = [bih, bhh, h0c]
    let inputs = [source, wih, whh] + optional.compactMap { $0 }
    let need = (input: source.requiresGrad, wih: wih.requiresGrad, whh: whh.requiresGrad, h0: h0c?.requiresGrad ?? false)
    let state = FinalStateGradients()
    let wihs = wih.detached(), whhs = whh.detached(), h0s = h0c?.detached()
    let saved: SequenceInput = switch input {
    case .dense(let x): .dense(x.detached())
    case .embedded(let table, let indices): .embedded(table: table.detached(), indices: indices)
    }
    let output = out.recorded(from: inputs) { g in
        let dOut = sequenceGradient(g)
        // d/dh_t minus the output's own gradient: the direct path through z, plus dgates·W_hh.
        let carry = out.empty([batch, hidden])
        if let gh = state.h { backend.copy(gh.view, into: carry.view) } else { backend.fill(carry.view, value: 0) }
        let dbih = bih == nil ? nil : Tensor.zeros([g3], device: out.device)
        let dbhh = bhh == nil ? nil : Tensor.zeros([g3], device: out.device)
        for t in stride(from: time - 1, through: 0, by: -1) {
            backend.gruCellBackward(
                batch: batch, hidden: hidden, gates: gates.matrix(batch, g3, stride: gateStep, at: t * g3),
                hiddenGates: hiddenGates.matrix(batch, g3, stride: gateStep, at: t * g3),
                hPrev: t == 0 ? h0s?.matrix(batch, hidden, stride: hidden)
                              : out.matrix(batch, hidden, stride: step, at: (t - 1) * hidden),
                dOut: dOut?.matrix(batch, hidden, stride: step, at: t * hidden),
                dhCarry: carry.matrix(batch, hidden, stride: hidden), dBias: dbih?.storage, dHiddenBias: dbhh?.storage)
            if t > 0 || need.h0 {
                gemm(m: batch, n: hidden, k: g3, beta: 1, hiddenGates, t * g3, lda: gateStep, whhs, ldb: hidden,
                     carry, ldc: hidden)
            }
        }
        let (dInput, dwih) = saved.gradients(gates, wihs, needInput: need.input, needWeight: need.wih)
        var dwhh: Tensor?
        if need.whh {
            dwhh = out.empty([g3, hidden])
            gemm(transA: true, m: g3, n: hidden, k: batch * time, hiddenGates, lda: g3,
                 previousStates(out, h0: h0s), ldb: hidden, dwhh!, ldc: hidden)
        }
        return [dInput, dwih, dwhh] + present(optional, [dbih, dbhh, need.h0 ? carry : nil])
    }
    let hLast = out.empty([batch, hidden])
    backend.copy(out.matrix(batch, hidden, stride: step, at: (time - 1) * hidden), into: hLast.view)
    let device = out.device
    let h = hLast.recorded(from: [output]) { g in
        state.h = g.contiguous()
        return [zeroGradient([batch, time, hidden], device: device)]
    }
    return (output, h)
}
