import KilnCompute

/// A `[..., rows, cols]` view as per-head matrices for cuBLAS: the storage, each head's first
/// element, the row distance (columns must be dense) and, when the heads lie at equal distances,
/// that distance (one strided-batched product then serves every head).
private struct HeadMatrices {
    let storage: Storage
    let offsets: [Int]
    let ld: Int
    let batchStride: Int?

    init(_ v: StridedView, _ what: String) {
        let l = v.layout
        let r = l.rank
        precondition(r >= 2, "attention: \(what) needs rank ≥ 2, got \(l.shape)")
        let rows = l.shape[r - 2], cols = l.shape[r - 1]
        precondition(cols <= 1 || l.strides[r - 1] == 1, "attention: \(what) needs dense rows, got \(l)")
        ld = rows <= 1 ? max(cols, 1) : l.strides[r - 2]
        precondition(ld >= cols, "attention: \(what) rows overlap in \(l)")
        storage = v.storage
        let lead = Array(l.shape.prefix(r - 2)), strides = Array(l.strides.prefix(r - 2))
        // Head h's first element: h decomposed over the leading axes.
        let offsets = (0..<lead.reduce(1, *)).map { h in
            var rest = h, o = l.offset
            for d in lead.indices.reversed() {
                o += rest % lead[d] * strides[d]
                rest /= lead[d]
            }
            return o
        }
        self.offsets = offsets
        let step = offsets.count > 1 ? offsets[1] - offsets[0] : 0
        batchStride = offsets.indices.allSatisfy { offsets[$0] == offsets[0] + $0 * step } ? step : nil
    }

    /// Dense `[heads, rows, cols]` scratch.
    init(dense storage: Storage, heads: Int, rows: Int, cols: Int) {
        self.storage = storage
        offsets = (0..<heads).map { $0 * rows * cols }
        ld = max(cols, 1)
        batchStride = rows * cols
    }
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

    /// `C = alpha·op(A)·op(B)` for every head: one strided-batched product when the heads of all
    /// three lie at equal distances, else one product per head.
    private func headProducts(_ transA: Bool, _ transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                              _ a: HeadMatrices, _ b: HeadMatrices, _ c: HeadMatrices) {
        let heads = c.offsets.count
        guard heads > 0 && m > 0 && n > 0 else { return }
        if let sa = a.batchStride, let sb = b.batchStride, let sc = c.batchStride {
            gemm(GemmProblem(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: 0,
                             a: a.storage, aOffset: a.offsets[0], lda: a.ld, aBatchStride: sa,
                             b: b.storage, bOffset: b.offsets[0], ldb: b.ld, bBatchStride: sb,
                             c: c.storage, cOffset: c.offsets[0], ldc: c.ld, cBatchStride: sc, batch: heads))
            return
        }
        for h in 0..<heads {
            gemm(GemmProblem(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: 0,
                             a: a.storage, aOffset: a.offsets[h], lda: a.ld, b: b.storage, bOffset: b.offsets[h], ldb: b.ld,
                             c: c.storage, cOffset: c.offsets[h], ldc: c.ld))
        }
    }

    package func attention(q: StridedView, k: StridedView, v: StridedView, scale: Float, causal: Bool,
                           probs: Storage, out: StridedView) {
        let Q = HeadMatrices(q, "q"), K = HeadMatrices(k, "k"), V = HeadMatrices(v, "v"), O = HeadMatrices(out, "out")
        let r = q.layout.rank
        let heads = Q.offsets.count
        let tq = q.layout.shape[r - 2], d = q.layout.shape[r - 1]
        let tk = k.layout.shape[r - 2], dv = v.layout.shape[r - 1]
        precondition(K.offsets.count == heads && V.offsets.count == heads && O.offsets.count == heads,
                     "attention: head counts of q, k, v, out differ")
        let P = HeadMatrices(dense: probs, heads: heads, rows: tq, cols: tk)
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
        let heads = Q.offsets.count
        let tq = q.layout.shape[r - 2], d = q.layout.shape[r - 1]
        let tk = k.layout.shape[r - 2], dvw = v.layout.shape[r - 1]
        let P = HeadMatrices(dense: probs, heads: heads, rows: tq, cols: tk)
        let scratch = allocate(heads * tq * tk)
        let S = HeadMatrices(dense: scratch, heads: heads, rows: tq, cols: tk)
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
