import CBLAS

// Scaled-dot-product attention, one head at a time: `S = scale·Q·Kᵀ`, a fused (masked) softmax in
// place, `O = P·V`. Heads are split across threads (each product is small: 128×128×32 in the
// `gpt` workload); each head's products are single-threaded OpenBLAS calls reading Q, K, V where
// they lie (row stride = the view's, transposes as BLAS flags: no copies).
//
// Causal masking is top-left aligned, as PyTorch's `is_causal`: query i sees keys 0...i. Rows are
// processed in blocks of `causalBlock`, and each block's products stop at the last key its rows
// can see, so the masked upper triangle costs (almost) no FLOPs.

/// Query rows per block under a causal mask.
private let causalBlock = 32

@inline(__always)
private func sgemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                   _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                   _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// A `[..., rows, cols]` view as per-head matrices: the first element of each head and the
/// distance between rows (columns must be dense).
private struct HeadMatrices {
    let base: UnsafeMutablePointer<Float>
    let offsets: [Int]
    let ld: Int

    init(_ v: StridedView, _ what: String) {
        let l = v.layout
        let r = l.rank
        ld = l.headMatrixRowStride("attention: \(what)")
        base = v.base
        // Odometer over the leading (head) axes.
        let lead = Array(l.shape.prefix(r - 2)), strides = Array(l.strides.prefix(r - 2))
        let count = lead.reduce(1, *)
        var offsets = [Int](repeating: l.offset, count: count)
        var index = [Int](repeating: 0, count: lead.count)
        var o = l.offset
        for h in 0..<count {
            offsets[h] = o
            var d = lead.count - 1
            while d >= 0 {
                index[d] += 1
                o += strides[d]
                if index[d] < lead[d] { break }
                o -= strides[d] * lead[d]
                index[d] = 0
                d -= 1
            }
        }
        self.offsets = offsets
    }

    @inline(__always) subscript(h: Int) -> UnsafeMutablePointer<Float> { base + offsets[h] }
}

/// Keys that query row `i` sees.
@inline(__always)
private func visible(_ i: Int, _ tk: Int, _ causal: Bool) -> Int { causal ? min(i + 1, tk) : tk }

extension CPUBackend {
    package func attention(q: StridedView, k: StridedView, v: StridedView, scale: Float, causal: Bool,
                           probs: Storage, out: StridedView) {
        let Q = HeadMatrices(q, "q"), K = HeadMatrices(k, "k"), V = HeadMatrices(v, "v"), O = HeadMatrices(out, "out")
        let r = q.layout.rank
        let heads = Q.offsets.count
        let tq = q.layout.shape[r - 2], d = q.layout.shape[r - 1]
        let tk = k.layout.shape[r - 2], dv = v.layout.shape[r - 1]
        precondition(K.offsets.count == heads && V.offsets.count == heads && O.offsets.count == heads,
                     "attention: head counts of q, k, v, out differ")
        let block = causal ? causalBlock : max(tq, 1)
        let P = probs.pointer
        parallelChunks(heads, work: heads * tq * tk * max(d, 4)) { range in
            for h in range {
                let p = P + h * tq * tk
                var i0 = 0
                while i0 < tq {
                    let i1 = min(i0 + block, tq)
                    let nk = visible(i1 - 1, tk, causal)
                    // S[i0..<i1, 0..<nk] = scale · Q·Kᵀ
                    sgemm(false, true, i1 - i0, nk, d, scale, Q[h] + i0 * Q.ld, Q.ld, K[h], K.ld, 0, p + i0 * tk, tk)
                    for i in i0..<i1 {
                        let row = p + i * tk
                        let n = visible(i, tk, causal)
                        let m = rowMax(row, n, stride: 1)
                        let inv = 1 / expShiftedSum(row, row, n, shift: m)
                        for j in 0..<n { row[j] *= inv }
                        if n < tk { (row + n).update(repeating: 0, count: tk - n) }
                    }
                    // O[i0..<i1] = P[i0..<i1, 0..<nk] · V[0..<nk]
                    sgemm(false, false, i1 - i0, dv, nk, 1, p + i0 * tk, tk, V[h], V.ld, 0, O[h] + i0 * O.ld, O.ld)
                    i0 = i1
                }
            }
        }
    }

    package func attentionBackward(q: StridedView, k: StridedView, v: StridedView, probs: Storage,
                                   dOut: StridedView, scale: Float, causal: Bool,
                                   dq: StridedView, dk: StridedView, dv: StridedView) {
        let Q = HeadMatrices(q, "q"), K = HeadMatrices(k, "k"), V = HeadMatrices(v, "v")
        let G = HeadMatrices(dOut, "dOut")
        let DQ = HeadMatrices(dq, "dq"), DK = HeadMatrices(dk, "dk"), DV = HeadMatrices(dv, "dv")
        let r = q.layout.rank
        let heads = Q.offsets.count
        let tq = q.layout.shape[r - 2], d = q.layout.shape[r - 1]
        let tk = k.layout.shape[r - 2], dvw = v.layout.shape[r - 1]
        let block = causal ? causalBlock : max(tq, 1)
        let P = probs.pointer
        parallelChunks(heads, work: heads * tq * tk * max(d, 4)) { range in
            // dP, then dS in place: one head's [tq, tk] scratch per chunk.
            let scratch = Storage(count: tq * tk)
            let s = scratch.pointer
            for h in range {
                let p = P + h * tq * tk
                var i0 = 0
                while i0 < tq {
                    let i1 = min(i0 + block, tq)
                    let nk = visible(i1 - 1, tk, causal)
                    // dP = dO·Vᵀ
                    sgemm(false, true, i1 - i0, nk, dvw, 1, G[h] + i0 * G.ld, G.ld, V[h], V.ld, 0, s + i0 * tk, tk)
                    // dS = scale · P ⊙ (dP − Σⱼ dP·P), zero where masked.
                    for i in i0..<i1 {
                        let pr = p + i * tk, sr = s + i * tk
                        let n = visible(i, tk, causal)
                        var acc = SIMD16<Float>()
                        var j = 0
                        while j + 16 <= n {
                            acc += UnsafeRawPointer(pr + j).loadUnaligned(as: SIMD16<Float>.self)
                                * UnsafeRawPointer(sr + j).loadUnaligned(as: SIMD16<Float>.self)
                            j += 16
                        }
                        var dot = acc.sum()
                        while j < n { dot += pr[j] * sr[j]; j += 1 }
                        for j in 0..<n { sr[j] = scale * pr[j] * (sr[j] - dot) }
                        // Zero to the row's end: the dK products below read past `nk` when tk > tq.
                        if n < tk { (sr + n).update(repeating: 0, count: tk - n) }
                    }
                    // dQ = dS·K
                    sgemm(false, false, i1 - i0, d, nk, 1, s + i0 * tk, tk, K[h], K.ld, 0, DQ[h] + i0 * DQ.ld, DQ.ld)
                    i0 = i1
                }
                // dV = Pᵀ·dO and dK = dSᵀ·Q, by blocks of keys: key j gets contributions only from
                // queries i ≥ j under the mask.
                var j0 = 0
                while j0 < tk {
                    let j1 = min(j0 + block, tk)
                    let first = causal ? j0 : 0  // first query that sees keys j0..<j1
                    if first >= tq {
                        for j in j0..<j1 {
                            (DV[h] + j * DV.ld).update(repeating: 0, count: dvw)
                            (DK[h] + j * DK.ld).update(repeating: 0, count: d)
                        }
                    } else {
                        sgemm(true, false, j1 - j0, dvw, tq - first, 1, p + first * tk + j0, tk,
                              G[h] + first * G.ld, G.ld, 0, DV[h] + j0 * DV.ld, DV.ld)
                        sgemm(true, false, j1 - j0, d, tq - first, 1, s + first * tk + j0, tk,
                              Q[h] + first * Q.ld, Q.ld, 0, DK[h] + j0 * DK.ld, DK.ld)
                    }
                    j0 = j1
                }
            }
        }
    }
}
