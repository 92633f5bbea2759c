import KilnCompute

/// A `[..., rows, cols]` view as per-head matrices for cuBLAS: the storage, the first head's first
/// element, the row distance (columns must be dense), and the leading (head) axes with their strides.
private struct HeadMatrices {
    let storage: Storage
    let offset: Int
    let ld: Int
    let lead: [Int]
    let leadStrides: [Int]

    init(_ v: StridedView, _ what: String) {
        let l = v.layout
        let r = l.rank
        ld = l.headMatrixRowStride("attention: \(what)")
        storage = v.storage
        offset = l.offset
        lead = Array(l.shape.prefix(r - 2))
        leadStrides = Array(l.strides.prefix(r - 2))
    }

    /// Dense `[lead..., rows, cols]` scratch.
    init(dense storage: Storage, lead: [Int], rows: Int, cols: Int) {
        self.storage = storage
        offset = 0
        ld = max(cols, 1)
        self.lead = lead
        leadStrides = Layout.contiguousStrides(lead).map { $0 * rows * cols }
    }

    var heads: Int { lead.reduce(1, *) }
}

extension CUDABackend {
    package func layerNorm(_ x: StridedView, weight: StridedView?, bias: StridedView?, rows: Int, cols: Int,
                           epsilon: Float, into y: Storage, mean: Storage, rstd: Storage) {
        launchRows(LayerNormKernels.source, "kiln_layer_norm", rows: rows, cols: cols,
                   [.pointer(y.deviceAddress), .pointer(mean.deviceAddress), .pointer(rstd.deviceAddress),
                    .pointer(x.deviceStart), optional(weight), optional(bias), .int64(Int64(rows)), .int32(Int32(cols)),
                    .float(epsilon)])
    }

    package func layerNormBackward(x: StridedView, weight: StridedView?, mean: Storage, rstd: Storage,
                                   dy: StridedView, rows: Int, cols: Int, dx: Storage, dweight: Storage?, dbias: Storage?) {
        launchRows(LayerNormKernels.source, "kiln_layer_norm_backward", rows: rows, cols: cols,
                   [.pointer(dx.deviceAddress), .pointer(x.deviceStart), optional(weight), .pointer(mean.deviceAddress),
                    .pointer(rstd.deviceAddress), .pointer(dy.deviceStart), .int64(Int64(rows)), .int32(Int32(cols))])
        guard dweight != nil || dbias != nil, cols > 0 else { return }
        kernel(LayerNormKernels.source, "kiln_layer_norm_params").launch(
            grid: ((cols + 31) / 32, 1, 1), block: (32, 8, 1),
            [optional(dweight), optional(dbias), .pointer(x.deviceStart), .pointer(mean.deviceAddress),
             .pointer(rstd.deviceAddress), .pointer(dy.deviceStart), .int64(Int64(rows)), .int32(Int32(cols))])
    }

    /// `C = alpha·op(A)·op(B)` for every head. The head axes of the three operands are merged where
    /// their strides allow; one strided-batched product covers one merged axis (the longer one when
    /// two remain, looping over the other), and more axes fall back to a product per head.
    private func headProducts(_ transA: Bool, _ transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                              _ a: HeadMatrices, _ b: HeadMatrices, _ c: HeadMatrices) {
        precondition(a.lead == c.lead && b.lead == c.lead, "attention: head axes \(a.lead), \(b.lead), \(c.lead) differ")
        guard c.heads > 0 && m > 0 && n > 0 else { return }
        let merged = collapse(c.lead, [a.leadStrides, b.leadStrides, c.leadStrides])
        let (shape, st) = (merged.shape, merged.strides)
        func product(_ o: (Int, Int, Int), batch: Int, strides s: (Int, Int, Int)) {
            gemm(GemmProblem(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: 0,
                             a: a.storage, aOffset: a.offset + o.0, lda: a.ld, aBatchStride: s.0,
                             b: b.storage, bOffset: b.offset + o.1, ldb: b.ld, bBatchStride: s.1,
                             c: c.storage, cOffset: c.offset + o.2, ldc: c.ld, cBatchStride: s.2, batch: batch))
        }
        switch shape.count {
        case 1:
            product((0, 0, 0), batch: shape[0], strides: (st[0][0], st[1][0], st[2][0]))
        case 2:
            let inner = shape[1] >= shape[0] ? 1 : 0, outer = 1 - inner
            for i in 0..<shape[outer] {
                product((i * st[0][outer], i * st[1][outer], i * st[2][outer]), batch: shape[inner],
                        strides: (st[0][inner], st[1][inner], st[2][inner]))
            }
        default:
            for h in 0..<c.heads {
                var rest = h, o = (0, 0, 0)
                for d in shape.indices.reversed() {
                    let i = rest % shape[d]
                    o = (o.0 + i * st[0][d], o.1 + i * st[1][d], o.2 + i * st[2][d])
                    rest /= shape[d]
                }
                product(o, batch: 1, strides: (0, 0, 0))
            }
        }
    }

    package func attention(q: StridedView, k: StridedView, v: StridedView, scale: Float, causal: Bool,
                           probs: Storage, out: StridedView) {
        let Q = HeadMatrices(q, "q"), K = HeadMatrices(k, "k"), V = HeadMatrices(v, "v"), O = HeadMatrices(out, "out")
        let r = q.layout.rank
        let heads = Q.heads
        let tq = q.layout.shape[r - 2], d = q.layout.shape[r - 1]
        let tk = k.layout.shape[r - 2], dv = v.layout.shape[r - 1]
        let P = HeadMatrices(dense: probs, lead: Q.lead, rows: tq, cols: tk)
        // P = softmax(scale·Q·Kᵀ) with the mask, then O = P·V.
        headProducts(false, true, m: tq, n: tk, k: d, alpha: scale, Q, K, P)
        launchRows(AttentionKernels.source, "kiln_attention_softmax", rows: heads * tq, cols: tk,
                   [.pointer(probs.deviceAddress), .int64(Int64(heads * tq)), .int32(Int32(tq)), .int32(Int32(tk)),
                    .int32(causal ? 1 : 0)])
        headProducts(false, false, m: tq, n: dv, k: tk, alpha: 1, P, V, O)
    }

    package func attentionBackward(q: StridedView, k: StridedView, v: StridedView, probs: Storage,
                                   dOut: StridedView, scale: Float, causal: Bool,
                                   dq: StridedView, dk: StridedView, dv: StridedView) {
        let Q = HeadMatrices(q, "q"), K = HeadMatrices(k, "k"), V = HeadMatrices(v, "v"), G = HeadMatrices(dOut, "dOut")
        let DQ = HeadMatrices(dq, "dq"), DK = HeadMatrices(dk, "dk"), DV = HeadMatrices(dv, "dv")
        let r = q.layout.rank
        let heads = Q.heads
        let tq = q.layout.shape[r - 2], d = q.layout.shape[r - 1]
        let tk = k.layout.shape[r - 2], dvw = v.layout.shape[r - 1]
        let P = HeadMatrices(dense: probs, lead: Q.lead, rows: tq, cols: tk)
        let scratch = allocate(heads * tq * tk)
        let S = HeadMatrices(dense: scratch, lead: Q.lead, rows: tq, cols: tk)
        // dP = dO·Vᵀ; dS = scale·P ⊙ (dP − Σ dP·P) (0 where masked); dQ = dS·K, dK = dSᵀ·Q, dV = Pᵀ·dO.
        headProducts(false, true, m: tq, n: tk, k: dvw, alpha: 1, G, V, S)
        launchRows(AttentionKernels.source, "kiln_attention_softmax_backward", rows: heads * tq, cols: tk,
                   [.pointer(scratch.deviceAddress), .pointer(probs.deviceAddress), .int64(Int64(heads * tq)),
                    .int32(Int32(tq)), .int32(Int32(tk)), .float(scale), .int32(causal ? 1 : 0)])
        headProducts(false, false, m: tq, n: d, k: tk, alpha: 1, S, K, DQ)
        headProducts(true, false, m: tk, n: dvw, k: tq, alpha: 1, P, G, DV)
        headProducts(true, false, m: tk, n: d, k: tq, alpha: 1, S, Q, DK)
    }
}
