import KilnCompute

// LSTM and GRU over a whole batch-first sequence, each recorded as ONE autograd node.
//
// Forward: the input projection of every step is one GEMM (`[B·T, I]·W_ihᵀ`, bias as its initial
// accumulator; or, for an embedded input, a projection of the table gathered by index); then per
// step the recurrent product `h_{t−1}·W_hhᵀ` onto that step's gates and one fused cell kernel.
// Backward through time: per step one fused gate-gradient kernel and the product `dgates·W_hh`;
// the weight gradients are then single GEMMs over all B·T rows, and the bias gradients are summed
// by the cell kernels as they go.
//
// LSTM steps are one backend call each (`lstmStep`, `lstmStepBackward`: product and cell split
// across threads by hidden units, with the gates interleaved per 16 units, so weights are
// row-permuted once per call and their gradients permuted back). GRU steps are a `gemm` and a
// cell kernel (`gruCell`) in PyTorch's gate order.
//
// Buffers are `[B, T, ·]` (batch-first, like input and output); a time step is a `[B, ·]` matrix
// whose rows lie `T·width` apart, which BLAS and the kernels read in place. The gate buffer is
// overwritten by the gate gradients in backward.

/// Gradients of the final state, passed from the state's node to the sequence's node, whose
/// pullback runs after it (the state is computed from the sequence).
private final class FinalStateGradients {
    var h: Tensor?
    var c: Tensor?
}

extension Tensor {
    /// A `[rows, cols]` matrix of this tensor's storage starting `offset` elements in, rows `stride` apart.
    fileprivate func matrix(_ rows: Int, _ cols: Int, stride: Int, at offset: Int = 0) -> StridedView {
        StridedView(storage, Layout(shape: [rows, cols], strides: [stride, 1], offset: layout.offset + offset))
    }
}

/// `C = alpha·op(A)·op(B) + beta·C` on dense row-major matrices given by tensor, element offset
/// and leading dimension.
private func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, beta: Float = 0,
                  _ a: Tensor, _ aOffset: Int = 0, lda: Int, _ b: Tensor, _ bOffset: Int = 0, ldb: Int,
                  _ c: Tensor, _ cOffset: Int = 0, ldc: Int) {
    c.backend.gemm(GemmProblem(
        transA: transA, transB: transB, m: m, n: n, k: k, beta: beta,
        a: a.storage, aOffset: a.layout.offset + aOffset, lda: lda,
        b: b.storage, bOffset: b.layout.offset + bOffset, ldb: ldb,
        c: c.storage, cOffset: c.layout.offset + cOffset, ldc: ldc))
}

/// The sum of the two bias vectors (either may be nil), graph-free.
private func combinedBias(_ a: Tensor?, _ b: Tensor?) -> Tensor? {
    noGrad {
        switch (a, b) {
        case let (a?, b?): a + b
        case let (a?, nil): a
        case let (nil, b?): b
        case (nil, nil): nil
        }
    }
}

/// `[B, T, width]` buffer whose rows start with `bias` (or uninitialised when nil).
private func buffer(like x: Tensor, _ shape: [Int], bias: Tensor?) -> Tensor {
    let t = x.empty(shape)
    if let bias {
        let rows = shape[0] * shape[1], width = shape[2]
        t.backend.copy(StridedView(bias.storage, bias.layout.expanded(to: [rows, width])),
                       into: StridedView(t.storage, Layout(contiguous: [rows, width])))
    }
    return t
}

/// Where a recurrent layer's input sequence comes from.
private enum SequenceInput {
    /// A dense `[B, T, I]` tensor.
    case dense(Tensor)
    /// Rows `indices` (`B·T` of them, batch-major) of a `[V, I]` embedding table.
    case embedded(table: Tensor, indices: [Int32])

    /// The tensor the gradient of the input goes to.
    var source: Tensor {
        switch self {
        case .dense(let x): x
        case .embedded(let table, _): table
        }
    }

    /// `x·W_ihᵀ + bias` for every step, as a `[B, T, G]` buffer. For an embedded input the table
    /// is projected once (`V` rows, not `B·T`) and its rows gathered: same sums, far fewer FLOPs.
    func projected(_ wih: Tensor, bias: Tensor?, batch: Int, time: Int) -> Tensor {
        let (g, inputSize) = (wih.shape[0], wih.shape[1])
        switch self {
        case .dense(let x):
            let gates = buffer(like: x, [batch, time, g], bias: bias)
            gemm(transB: true, m: batch * time, n: g, k: inputSize, beta: bias == nil ? 0 : 1,
                 x, lda: inputSize, wih, ldb: inputSize, gates, ldc: g)
            return gates
        case .embedded(let table, let indices):
            let gates = table.empty([batch, time, g])
            table.backend.indexSelect(tableProjection(wih, bias: bias)!.view, width: g, indices: indices, into: gates.storage)
            return gates
        }
    }

    /// For an embedded input, `table·W_ihᵀ + bias` (`[V, G]`): every step's input projection is one
    /// of its rows. Nil for a dense input.
    func tableProjection(_ wih: Tensor, bias: Tensor?) -> Tensor? {
        guard case .embedded(let table, _) = self else { return nil }
        let (rows, g, inputSize) = (table.shape[0], wih.shape[0], wih.shape[1])
        let projection = buffer(like: table, [1, rows, g], bias: bias)
        gemm(transB: true, m: rows, n: g, k: inputSize, beta: bias == nil ? 0 : 1,
             table, lda: inputSize, wih, ldb: inputSize, projection, ldc: g)
        return projection.reshaped([rows, g])
    }

    /// Step `t`'s rows of a `[V, G]` table for an embedded input (nil for a dense one).
    func rows(of table: Tensor?, step t: Int, time: Int) -> TableRows? {
        guard let table, case .embedded(_, let indices) = self else { return nil }
        return TableRows(table: table.view, indices: indices, offset: t, stride: time)
    }

    /// Gradients of the input source and of `W_ih` from the gate gradients `dGates` `[B·T, G]`
    /// (for an embedded input, from their sums per table row when `tableRowSums` has them).
    func gradients(_ dGates: Tensor, _ wih: Tensor, needInput: Bool, needWeight: Bool,
                   tableRowSums: Tensor? = nil) -> (input: Tensor?, weight: Tensor?) {
        let (g, inputSize) = (wih.shape[0], wih.shape[1])
        // The gate gradients seen from the input's rows: every step's, or summed per table row.
        let (rowsGrad, rows, x): (Tensor, Int, Tensor)
        switch self {
        case .dense(let input):
            (rowsGrad, rows, x) = (dGates, input.shape[0] * input.shape[1], input)
        case .embedded(let table, let indices):
            var perRow = tableRowSums
            if perRow == nil {
                perRow = Tensor.zeros([table.shape[0], g], device: table.device)
                table.backend.indexAdd(dGates.view, width: g, indices: indices, into: perRow!.storage)
            }
            (rowsGrad, rows, x) = (perRow!, table.shape[0], table)
        }
        var dInput: Tensor?, dWeight: Tensor?
        if needInput {
            dInput = x.empty(x.shape)
            gemm(m: rows, n: inputSize, k: g, rowsGrad, lda: g, wih, ldb: inputSize, dInput!, ldc: inputSize)
        }
        if needWeight {
            dWeight = x.empty([g, inputSize])
            gemm(transA: true, m: g, n: inputSize, k: rows, rowsGrad, lda: g, x, ldb: inputSize, dWeight!, ldc: inputSize)
        }
        return (dInput, dWeight)
    }
}

/// `prev[:, t] = out[:, t − 1]` for t ≥ 1 and `prev[:, 0] = h0` (zeros when nil): the hidden
/// state each step started from, so that `dW_hh` is one GEMM over all steps.
private func previousStates(_ out: Tensor, h0: Tensor?) -> Tensor {
    let (batch, time, hidden) = (out.shape[0], out.shape[1], out.shape[2])
    let prev = out.empty(out.shape)
    let steps = Layout(shape: [batch, time - 1, hidden], strides: [time * hidden, hidden, 1], offset: 0)
    var shifted = steps
    shifted.offset = hidden
    var source = steps
    source.offset = out.layout.offset
    out.backend.copy(StridedView(out.storage, source), into: StridedView(prev.storage, shifted))
    let first = prev.matrix(batch, hidden, stride: time * hidden)
    if let h0 { prev.backend.copy(h0.view, into: first) } else { prev.backend.fill(first, value: 0) }
    return prev
}

/// The LSTM kernels' gate order: rows interleaved per block of 16 units (`[i f g o]` of units
/// 0–15, then 16–31, …). Entry j is the PyTorch row (`k·H + u`) that row j holds.
private func interleavedGateRows(hidden: Int, gates: Int) -> [Int32] {
    var rows: [Int32] = []
    rows.reserveCapacity(gates * hidden)
    var u = 0
    while u < hidden {
        let n = Swift.min(16, hidden - u)
        for k in 0..<gates { for j in 0..<n { rows.append(Int32(k * hidden + u + j)) } }
        u += n
    }
    return rows
}

/// The inverse of a permutation.
private func inverted(_ order: [Int32]) -> [Int32] {
    var inverse = [Int32](repeating: 0, count: order.count)
    for (j, row) in order.enumerated() { inverse[Int(row)] = Int32(j) }
    return inverse
}

/// Rows `order` of a contiguous tensor (graph-free).
private func rows(_ t: Tensor, _ order: [Int32]) -> Tensor {
    let out = t.empty([order.count] + t.shape.dropFirst())
    t.backend.indexSelect(t.view, width: t.count / t.shape[0], indices: order, into: out.storage)
    return out
}

/// An initial state given as `[B, H]` or PyTorch's `[1, B, H]`, as a contiguous `[B, H]` tensor.
private func initialState(_ s: Tensor?, batch: Int, hidden: Int, _ op: String, _ name: String) -> Tensor? {
    guard let s else { return nil }
    precondition(s.shape == [batch, hidden] || s.shape == [1, batch, hidden],
                 "\(op): \(name) \(s.shape) should be [\(batch), \(hidden)]")
    return (s.rank == 3 ? s.reshaped([batch, hidden]) : s).contiguous()
}

/// A gradient of the right shape that is all zeros and costs nothing (stride 0): what a final
/// state's node hands to the sequence's node so that the latter's pullback runs.
private func zeroGradient(_ shape: [Int], device: Device) -> Tensor {
    Tensor.zeros([1], device: device).expanded(to: shape)
}

/// The incoming gradient of a sequence output, or nil when it is the all-zero stand-in.
private func sequenceGradient(_ g: Tensor) -> Tensor? {
    g.strides.allSatisfy { $0 == 0 } && g.count > 1 ? nil : g.contiguous()
}

/// The gradients of the optional inputs that were given (those recorded as node inputs).
private func present(_ inputs: [Tensor?], _ grads: [Tensor?]) -> [Tensor?] {
    var result: [Tensor?] = []
    for (input, grad) in zip(inputs, grads) where input != nil { result.append(grad) }
    return result
}

private func checkWeights(_ op: String, gates: Int, input: Int, hidden: Int,
                          _ wih: Tensor, _ whh: Tensor, _ bih: Tensor?, _ bhh: Tensor?) {
    precondition(wih.shape == [gates * hidden, input],
                 "\(op): weightIH \(wih.shape) should be [\(gates * hidden), \(input)] for input size \(input)")
    precondition(whh.shape == [gates * hidden, hidden], "\(op): weightHH \(whh.shape) should be [\(gates * hidden), \(hidden)]")
    for (name, b) in [("biasIH", bih), ("biasHH", bhh)] {
        if let b { precondition(b.shape == [gates * hidden], "\(op): \(name) \(b.shape) should be [\(gates * hidden)]") }
    }
}

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

/// Validates an embedded input (`shape` `[B, T]`, indices in range).
private func embeddedInput(_ op: String, _ table: Tensor, _ indices: [Int32], _ shape: [Int]) -> SequenceInput {
    precondition(table.rank == 2, "\(op): embedding table must be [count, features], got \(table.shape)")
    precondition(shape.count == 2 && shape[1] > 0 && shape[0] * shape[1] == indices.count,
                 "\(op): \(indices.count) indices don't fill shape \(shape) ([batch, time > 0])")
    for (i, index) in indices.enumerated() where index < 0 || Int(index) >= table.shape[0] {
        preconditionFailure("\(op): index \(index) at position \(i) out of range 0..<\(table.shape[0])")
    }
    return .embedded(table: table.contiguous(), indices: indices)
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
    let recurrent = whhK.matrix(g4, hidden, stride: hidden)
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
