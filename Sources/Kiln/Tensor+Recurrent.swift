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
final class FinalStateGradients {
    var h: Tensor?
    var c: Tensor?
}

extension Tensor {
    /// A `[rows, cols]` matrix of this tensor's storage starting `offset` elements in, rows `stride` apart.
    func matrix(_ rows: Int, _ cols: Int, stride: Int, at offset: Int = 0) -> StridedView {
        StridedView(storage, Layout(shape: [rows, cols], strides: [stride, 1], offset: layout.offset + offset))
    }
}

/// `C = alpha·op(A)·op(B) + beta·C` on dense row-major matrices given by tensor, element offset
/// and leading dimension.
func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, beta: Float = 0,
                  _ a: Tensor, _ aOffset: Int = 0, lda: Int, _ b: Tensor, _ bOffset: Int = 0, ldb: Int,
                  _ c: Tensor, _ cOffset: Int = 0, ldc: Int) {
    c.backend.gemm(GemmProblem(
        transA: transA, transB: transB, m: m, n: n, k: k, beta: beta,
        a: a.storage, aOffset: a.layout.offset + aOffset, lda: lda,
        b: b.storage, bOffset: b.layout.offset + bOffset, ldb: ldb,
        c: c.storage, cOffset: c.layout.offset + cOffset, ldc: ldc))
}

/// The sum of the two bias vectors (either may be nil), graph-free.
func combinedBias(_ a: Tensor?, _ b: Tensor?) -> Tensor? {
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
func buffer(like x: Tensor, _ shape: [Int], bias: Tensor?) -> Tensor {
    let t = x.empty(shape)
    if let bias {
        let rows = shape[0] * shape[1], width = shape[2]
        t.backend.copy(StridedView(bias.storage, bias.layout.expanded(to: [rows, width])),
                       into: StridedView(t.storage, Layout(contiguous: [rows, width])))
    }
    return t
}

/// Where a recurrent layer's input sequence comes from.
enum SequenceInput {
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
func previousStates(_ out: Tensor, h0: Tensor?) -> Tensor {
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
func interleavedGateRows(hidden: Int, gates: Int) -> [Int32] {
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
func inverted(_ order: [Int32]) -> [Int32] {
    var inverse = [Int32](repeating: 0, count: order.count)
    for (j, row) in order.enumerated() { inverse[Int(row)] = Int32(j) }
    return inverse
}

/// Rows `order` of a contiguous tensor (graph-free).
func rows(_ t: Tensor, _ order: [Int32]) -> Tensor {
    let out = t.empty([order.count] + t.shape.dropFirst())
    t.backend.indexSelect(t.view, width: t.count / t.shape[0], indices: order, into: out.storage)
    return out
}

/// An initial state given as `[B, H]` or PyTorch's `[1, B, H]`, as a contiguous `[B, H]` tensor.
func initialState(_ s: Tensor?, batch: Int, hidden: Int, _ op: String, _ name: String) -> Tensor? {
    guard let s else { return nil }
    precondition(s.shape == [batch, hidden] || s.shape == [1, batch, hidden],
                 "\(op): \(name) \(s.shape) should be [\(batch), \(hidden)]")
    return (s.rank == 3 ? s.reshaped([batch, hidden]) : s).contiguous()
}

/// A gradient of the right shape that is all zeros and costs nothing (stride 0): what a final
/// state's node hands to the sequence's node so that the latter's pullback runs.
func zeroGradient(_ shape: [Int], device: Device) -> Tensor {
    Tensor.zeros([1], device: device).expanded(to: shape)
}

/// The incoming gradient of a sequence output, or nil when it is the all-zero stand-in.
func sequenceGradient(_ g: Tensor) -> Tensor? {
    g.strides.allSatisfy { $0 == 0 } && g.count > 1 ? nil : g.contiguous()
}

/// The gradients of the optional inputs that were given (those recorded as node inputs).
func present(_ inputs: [Tensor?], _ grads: [Tensor?]) -> [Tensor?] {
    var result: [Tensor?] = []
    for (input, grad) in zip(inputs, grads) where input != nil { result.append(grad) }
    return result
}

func checkWeights(_ op: String, gates: Int, input: Int, hidden: Int,
                          _ wih: Tensor, _ whh: Tensor, _ bih: Tensor?, _ bhh: Tensor?) {
    precondition(wih.shape == [gates * hidden, input],
                 "\(op): weightIH \(wih.shape) should be [\(gates * hidden), \(input)] for input size \(input)")
    precondition(whh.shape == [gates * hidden, hidden], "\(op): weightHH \(whh.shape) should be [\(gates * hidden), \(hidden)]")
    for (name, b) in [("biasIH", bih), ("biasHH", bhh)] {
        if let b { precondition(b.shape == [gates * hidden], "\(op): \(name) \(b.shape) should be [\(gates * hidden)]") }
    }
}

/// Validates an embedded input (`shape` `[B, T]`, indices in range).
func embeddedInput(_ op: String, _ table: Tensor, _ indices: [Int32], _ shape: [Int]) -> SequenceInput {
    precondition(table.rank == 2, "\(op): embedding table must be [count, features], got \(table.shape)")
    precondition(shape.count == 2 && shape[1] > 0 && shape[0] * shape[1] == indices.count,
                 "\(op): \(indices.count) indices don't fill shape \(shape) ([batch, time > 0])")
    for (i, index) in indices.enumerated() where index < 0 || Int(index) >= table.shape[0] {
        preconditionFailure("\(op): index \(index) at position \(i) out of range 0..<\(table.shape[0])")
    }
    return .embedded(table: table.contiguous(), indices: indices)
}
