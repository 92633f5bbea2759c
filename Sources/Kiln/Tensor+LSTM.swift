import KilnCompute

// LSTM over a whole sequence as one autograd node (see Tensor+Recurrent.swift for the scheme and
// the helpers shared with the GRU).

/// Long short-term memory over a batch-first sequence `x` `[B, T, I]`, PyTorch's equations and gate
/// order (i, f, g, o): `weightIH` `[4H, I]`, `weightHH` `[4H, H]`, biases `[4H]` (optional). The
/// initial state `h0`, `c0` (`[B, H]`; nil: zeros) may require gradients.
///
/// Returns every step's hidden state `[B, T, H]` and the final `h`, `c` (`[B, H]`). The whole
/// sequence is one autograd node; its pullback is backpropagation through time.
public func lstm(_ x: Tensor, weightIH: Tensor, weightHH: Tensor, biasIH: Tensor?, biasHH: Tensor?,
                 h0: Tensor? = nil, c0: Tensor? = nil) -> (output: Tensor, h: Tensor, c: Tensor) {
    precondition(x.rank == 3 && x.shape[1] > 0, "lstm: input must be [batch, time > 0, features], got \(x.shape)")
    return lstm(.dense(x.contiguous()), batch: x.shape[0], time: x.shape[1], weightIH: weightIH, weightHH: weightHH,
                biasIH: biasIH, biasHH: biasHH, h0: h0, c0: c0)
}

/// `lstm` of the embedding rows `table[indices]` (`indices` batch-major, `shape` = `[B, T]`): the
/// same values and gradients (to `table` instead of the looked-up rows) as
/// `lstm(table.indexSelect(indices).reshaped([B, T, I]), …)`, but the input projection is
/// computed once per table row, so its three products shrink from `B·T` rows to `V`.
public func lstm(embedding table: Tensor, indices: [Int32], shape: [Int], weightIH: Tensor, weightHH: Tensor,
                 biasIH: Tensor?, biasHH: Tensor?, h0: Tensor? = nil, c0: Tensor? = nil)
    -> (output: Tensor, h: Tensor, c: Tensor) {
    let input = embeddedInput("lstm", table, indices, shape)
    return lstm(input, batch: shape[0], time: shape[1], weightIH: weightIH, weightHH: weightHH,
                biasIH: biasIH, biasHH: biasHH, h0: h0, c0: c0)
}

private func lstm(_ input: SequenceInput, batch: Int, time: Int, weightIH: Tensor, weightHH: Tensor,
                  biasIH: Tensor?, biasHH: Tensor?, h0: Tensor?, c0: Tensor?) -> (output: Tensor, h: Tensor, c: Tensor) {
    let source = input.source
    let hidden = weightHH.shape.last ?? 0
    checkWeights("lstm", gates: 4, input: source.shape.last!, hidden: hidden, weightIH, weightHH, biasIH, biasHH)
    let g4 = 4 * hidden
    let wih = weightIH.contiguous(), whh = weightHH.contiguous()
    let bih = biasIH?.contiguous(), bhh = biasHH?.contiguous()
    let h0c = initialState(h0, batch: batch, hidden: hidden, "lstm", "h0")
    let c0c = initialState(c0, batch: batch, hidden: hidden, "lstm", "c0")
    let backend = source.backend

    // The kernels' interleaved gate order (see CPUBackend+Recurrent.swift): weights, bias, gates
    // and their gradients live in it; weight and bias gradients are put back in PyTorch's order.
    let order = interleavedGateRows(hidden: hidden, gates: 4)
    let wihK = rows(wih, order), whhK = rows(whh, order)
    let bias = combinedBias(bih, bhh).map { rows($0, order) }
    // A dense input's projection fills the gate buffer; an embedded one's stays a table whose rows
    // the step kernels read directly.
    let table = input.tableProjection(wihK, bias: bias)
    let gates = table == nil ? input.projected(wihK, bias: bias, batch: batch, time: time)
                             : source.empty([batch, time, g4])
    let out = source.empty([batch, time, hidden]), cs = source.empty([batch, time, hidden])
    let tanhC = source.empty([batch, time, hidden])
    let step = time * hidden, gateStep = time * g4
    let recurrent = backend.recurrentWeight(whhK.matrix(g4, hidden, stride: hidden), hidden: hidden)
    for t in 0..<time {
        backend.lstmStep(batch: batch, hidden: hidden, gates: gates.matrix(batch, g4, stride: gateStep, at: t * g4),
                         input: input.rows(of: table, step: t, time: time),
                         hPrev: t == 0 ? h0c?.matrix(batch, hidden, stride: hidden)
                                       : out.matrix(batch, hidden, stride: step, at: (t - 1) * hidden),
                         weightHH: recurrent,
                         cPrev: t == 0 ? c0c?.matrix(batch, hidden, stride: hidden)
                                       : cs.matrix(batch, hidden, stride: step, at: (t - 1) * hidden),
                         c: cs.matrix(batch, hidden, stride: step, at: t * hidden),
                         tanhC: tanhC.matrix(batch, hidden, stride: step, at: t * hidden),
                         h: out.matrix(batch, hidden, stride: step, at: t * hidden))
    }

    let optional = [bih, bhh, h0c, c0c]
    let inputs = [source, wih, whh] + optional.compactMap { $0 }
    let need = (input: source.requiresGrad, wih: wih.requiresGrad, whh: whh.requiresGrad,
                h0: h0c?.requiresGrad ?? false, c0: c0c?.requiresGrad ?? false)
    let state = FinalStateGradients()
    let h0s = h0c?.detached(), c0s = c0c?.detached()
    let saved: SequenceInput = switch input {
    case .dense(let x): .dense(x.detached())
    case .embedded(let table, let indices): .embedded(table: table.detached(), indices: indices)
    }
    let output = out.recorded(from: inputs) { g in
        let dOut = sequenceGradient(g)
        let dc = out.empty([batch, hidden]), dh = out.empty([batch, hidden])
        if let gc = state.c { backend.copy(gc.view, into: dc.view) } else { backend.fill(dc.view, value: 0) }
        if let gh = state.h { backend.copy(gh.view, into: dh.view) } else { backend.fill(dh.view, value: 0) }
        let dBias = bias == nil ? nil : Tensor.zeros([g4], device: out.device)
        // An embedded input's gate gradients, summed per table row by the step kernels.
        let rowSums = table == nil || !(need.input || need.wih) ? nil : Tensor.zeros(table!.shape, device: out.device)
        for t in stride(from: time - 1, through: 0, by: -1) {
            backend.lstmStepBackward(
                batch: batch, hidden: hidden, gates: gates.matrix(batch, g4, stride: gateStep, at: t * g4),
                dGatesNext: t == time - 1 ? nil : gates.matrix(batch, g4, stride: gateStep, at: (t + 1) * g4),
                weightHH: recurrent,
                cPrev: t == 0 ? c0s?.matrix(batch, hidden, stride: hidden)
                              : cs.matrix(batch, hidden, stride: step, at: (t - 1) * hidden),
                tanhC: tanhC.matrix(batch, hidden, stride: step, at: t * hidden),
                dOut: dOut?.matrix(batch, hidden, stride: step, at: t * hidden),
                dh: dh.matrix(batch, hidden, stride: hidden), dc: dc.matrix(batch, hidden, stride: hidden),
                dBias: dBias?.storage, inputGradient: saved.rows(of: rowSums, step: t, time: time))
        }
        // `gates` now holds d/d(gates) of every step: [B·T, 4H], interleaved.
        var dh0: Tensor?
        if need.h0 {
            dh0 = out.empty([batch, hidden])
            gemm(m: batch, n: hidden, k: g4, gates, lda: gateStep, whhK, ldb: hidden, dh0!, ldc: hidden)
        }
        let inverse = inverted(order)
        let (dInput, dwih) = saved.gradients(gates, wihK, needInput: need.input, needWeight: need.wih,
                                             tableRowSums: rowSums)
        var dwhh: Tensor?
        if need.whh {
            let d = out.empty([g4, hidden])
            gemm(transA: true, m: g4, n: hidden, k: batch * time, gates, lda: g4,
                 previousStates(out, h0: h0s), ldb: hidden, d, ldc: hidden)
            dwhh = rows(d, inverse)
        }
        let db = dBias.map { rows($0, inverse) }
        return [dInput, dwih.map { rows($0, inverse) }, dwhh]
            + present(optional, [db, db, dh0, need.c0 ? dc : nil])
    }
    let hLast = out.empty([batch, hidden]), cLast = out.empty([batch, hidden])
    backend.copy(out.matrix(batch, hidden, stride: step, at: (time - 1) * hidden), into: hLast.view)
    backend.copy(cs.matrix(batch, hidden, stride: step, at: (time - 1) * hidden), into: cLast.view)
    let device = out.device
    let h = hLast.recorded(from: [output]) { g in
        state.h = g.contiguous()
        return [zeroGradient([batch, time, hidden], device: device)]
    }
    let c = cLast.recorded(from: [output]) { g in
        state.c = g.contiguous()
        return [zeroGradient([batch, time, hidden], device: device)]
    }
    return (output, h, c)
}
