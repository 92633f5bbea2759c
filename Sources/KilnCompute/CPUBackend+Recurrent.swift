import CBLAS

// Fused LSTM and GRU kernels: one call per time step does every gate non-linearity and the state
// update (forward) or every gate gradient (backward) for the whole batch, 16 hidden units at a
// time.
//
// LSTM steps also do the step's recurrent product, split with the cell work: its gates are kept
// interleaved per block of 16 units (`[i f g o]` of units 0–15, then of 16–31, …; `W_hh` rows
// permuted to match), so the thread that owns a range of units computes exactly its gates with one
// single-threaded GEMM and then their cell update, from data in its own cache: one fork-join per
// step. (A partial last block of w < 16 units is `[i f g o]` w wide each.) GRU steps take their
// recurrent product from `Kiln` (`gemm`) in PyTorch's gate layout.
//
// Sigmoids are computed as σ(x) = ½ + ½·tanh(x/2) with `vtanh` (absolute error below 2.5e-7;
// relative precision is lost only where σ < 1e-6, which no gate distinguishes from 0), written
// out in place: NOTE: a `vsigmoid` helper was not inlined into these loops (+8% time).
//
// Views are `[batch, width]` matrices whose rows may lie far apart (a time step of a `[B, T, W]`
// buffer); columns are dense. Gate blocks follow PyTorch: LSTM i, f, g, o; GRU r, z, n.
// Work is split across threads by hidden units, so each thread owns its bias-gradient columns.

@inline(__always)
private func load(_ p: UnsafePointer<Float>, _ n: Int) -> SIMD16<Float> {
    if n == 16 { return UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self) }
    var v = SIMD16<Float>()
    for i in 0..<n { v[i] = p[i] }
    return v
}

@inline(__always)
private func store(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
    if n == 16 { UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self); return }
    for i in 0..<n { p[i] = v[i] }
}

/// tanh on 16 lanes: a rational approximation, x·P(x²)/Q(x²) on x clamped to ±7.905 (Eigen's
/// `generic_fast_tanh_float`). Within 6 ulp of tanh and 4e-7 relative everywhere, and, being odd,
/// exact in form near 0. About twice as fast as an `exp`-based tanh here.
@inline(__always)
package func vtanh(_ v: SIMD16<Float>) -> SIMD16<Float> {
    // NOTE: 1 − 2/(e^{2x} + 1) would cancel near 0 (relative error ~1e-3 at x = 1e-4).
    let limit: Float = 7.905_311
    var x = v.replacing(with: limit, where: v .> limit)
    x = x.replacing(with: -limit, where: x .< -limit)
    let x2 = x * x
    var p = SIMD16<Float>(repeating: -2.760_768_5e-16)
    p = p * x2 + 2.000_187_9e-13
    p = p * x2 - 8.604_671_5e-11
    p = p * x2 + 5.122_297_1e-8
    p = p * x2 + 1.485_722_4e-5
    p = p * x2 + 6.372_619_3e-4
    p = p * x2 + 4.893_524_6e-3
    var q = SIMD16<Float>(repeating: 1.198_258_4e-6)
    q = q * x2 + 1.185_347_1e-4
    q = q * x2 + 2.268_434_6e-3
    q = q * x2 + 4.893_525_2e-3
    return x * p / q
}

/// A `[rows, cols]` view's first element and row distance.
private struct Rows {
    let p: UnsafeMutablePointer<Float>
    let ld: Int
    init(_ v: StridedView) {
        p = v.base + v.layout.offset
        ld = v.layout.rank == 2 ? v.layout.strides[0] : 0
    }
    init?(_ v: StridedView?) {
        guard let v else { return nil }
        self.init(v)
    }
    @inline(__always) subscript(row: Int) -> UnsafeMutablePointer<Float> { p + row * ld }
}

/// One single-threaded BLAS product on row-major matrices (the caller splits the work).
@inline(__always)
private func sgemmRows(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                       _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                       _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    _ = configureOpenBLAS
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// `TableRows` resolved to row pointers: `self[b]` is batch row b's table row.
private struct Picked {
    let rows: [UnsafeMutablePointer<Float>]
    init(_ t: TableRows) {
        let base = t.table.base + t.table.layout.offset, ld = t.table.layout.strides[0]
        let count = t.table.layout.shape[0]
        rows = (0..<((t.indices.count - t.offset + t.stride - 1) / t.stride)).map { b in
            let index = Int(t.indices[t.offset + b * t.stride])
            precondition(index >= 0 && index < count, "table row \(index) out of range 0..<\(count)")
            return base + index * ld
        }
    }
    @inline(__always) subscript(b: Int) -> UnsafeMutablePointer<Float> { rows[b] }
}

/// Splits `0..<hidden` into ranges aligned to 16 units, across threads when `work` is large.
@inline(__always)
private func forEachUnitRange(_ hidden: Int, work: Int, _ body: (Range<Int>) -> Void) {
    let blocks = (hidden + 15) / 16
    parallelChunks(blocks, work: work) { r in body(r.lowerBound * 16 ..< min(r.upperBound * 16, hidden)) }
}

/// Work estimate of one cell step, in "elements" for `parallelThreshold`: each unit costs several
/// exponentials (≈ 8 element-wise operations each).
@inline(__always)
private func cellWork(_ batch: Int, _ hidden: Int) -> Int { batch * hidden * 16 }

extension CPUBackend {
    /// `W_hh` packed for `panelProduct` (see `RecurrentWeight`) when `hidden` is a multiple of 4 (the
    /// forward panels then never straddle two threads' gate columns); else the matrix alone.
    package func recurrentWeight(_ matrix: StridedView, hidden: Int) -> RecurrentWeight {
        guard hidden > 0, hidden % 4 == 0 else { return RecurrentWeight(matrix) }
        let W = Rows(matrix), g4 = 4 * hidden
        let forward = packedCount(k: hidden, n: g4)
        let panels = Storage(count: forward + packedCount(k: g4, n: hidden))
        packPanels(W.p, k: hidden, n: g4, rowStride: 1, columnStride: W.ld, into: panels.pointer)
        packPanels(W.p, k: g4, n: hidden, rowStride: W.ld, columnStride: 1, into: panels.pointer + forward)
        return RecurrentWeight(matrix, panels: panels)
    }

    package func lstmStep(batch: Int, hidden: Int, gates: StridedView, input: TableRows?, hPrev: StridedView?,
                          weightHH: RecurrentWeight, cPrev: StridedView?, c: StridedView, tanhC: StridedView, h: StridedView) {
        let G = Rows(gates), HP = Rows(hPrev), W = Rows(weightHH.matrix), CP = Rows(cPrev)
        let panels = weightHH.panels?.pointer
        let C = Rows(c), TC = Rows(tanhC), Hs = Rows(h)
        let X = input.map(Picked.init)
        // The gates hold pre-activations unless an input replaces them and no product adds to it.
        let fromGates = X == nil || HP != nil
        forEachUnitRange(hidden, work: cellWork(batch, hidden) + (hPrev == nil ? 0 : batch * hidden * hidden)) { units in
            // This thread's gates: columns 4·u0 ..< 4·u1 (interleaved layout), computed here.
            if let hp = HP, let panels {
                panelProduct(m: batch, n: 4 * units.count, k: hidden, hp.p, lda: hp.ld, panels + 4 * units.lowerBound * hidden,
                             G.p + 4 * units.lowerBound, ldc: G.ld, accumulate: X == nil)
            } else if let hp = HP {
                sgemmRows(false, true, batch, 4 * units.count, hidden, 1, hp.p, hp.ld, W[4 * units.lowerBound], W.ld,
                          X == nil ? 1 : 0, G.p + 4 * units.lowerBound, G.ld)
            }
            var u = units.lowerBound
            while u < units.upperBound {
                let n = min(16, hidden - u)
                for b in 0..<batch {
                    let g = G[b] + 4 * u
                    var ai = SIMD16<Float>(), af = SIMD16<Float>(), az = SIMD16<Float>(), ao = SIMD16<Float>()
                    if fromGates { ai = load(g, n); af = load(g + n, n); az = load(g + 2 * n, n); ao = load(g + 3 * n, n) }
                    if let x = X?[b] {
                        let r = x + 4 * u
                        ai += load(r, n); af += load(r + n, n); az += load(r + 2 * n, n); ao += load(r + 3 * n, n)
                    }
                    let i = vtanh(0.5 * ai) * 0.5 + 0.5, f = vtanh(0.5 * af) * 0.5 + 0.5
                    let z = vtanh(az), o = vtanh(0.5 * ao) * 0.5 + 0.5
                    let cp = CP.map { load($0[b] + u, n) } ?? SIMD16()
                    let cn = f * cp + i * z
                    let tc = vtanh(cn)
                    // Activations replace the pre-activations: backward needs them.
                    store(i, g, n); store(f, g + n, n); store(z, g + 2 * n, n); store(o, g + 3 * n, n)
                    store(cn, C[b] + u, n)
                    store(tc, TC[b] + u, n)
                    store(o * tc, Hs[b] + u, n)
                }
                u += n
            }
        }
    }

    package func lstmStepBackward(batch: Int, hidden: Int, gates: StridedView, dGatesNext: StridedView?,
                                  weightHH: RecurrentWeight, cPrev: StridedView?, tanhC: StridedView, dOut: StridedView?,
                                  dh: StridedView, dc: StridedView, dBias: Storage?, inputGradient: TableRows?) {
        let G = Rows(gates), GN = Rows(dGatesNext), W = Rows(weightHH.matrix), CP = Rows(cPrev), TC = Rows(tanhC)
        let panels = weightHH.panels.map { $0.pointer + packedCount(k: hidden, n: 4 * hidden) }
        let DO = Rows(dOut), DH = Rows(dh), DC = Rows(dc)
        let db = dBias?.pointer
        let DX = inputGradient.map(Picked.init)
        forEachUnitRange(hidden, work: cellWork(batch, hidden) + (dGatesNext == nil ? 0 : batch * hidden * hidden)) { units in
            // d/dh_t for this thread's units from every gate of step t + 1.
            if let gn = GN, let panels {
                panelProduct(m: batch, n: units.count, k: 4 * hidden, gn.p, lda: gn.ld, panels + units.lowerBound * 4 * hidden,
                             DH.p + units.lowerBound, ldc: DH.ld, accumulate: false)
            } else if let gn = GN {
                sgemmRows(false, false, batch, units.count, 4 * hidden, 1, gn.p, gn.ld, W.p + units.lowerBound, W.ld,
                          0, DH.p + units.lowerBound, DH.ld)
            }
            var u = units.lowerBound
            while u < units.upperBound {
                let n = min(16, hidden - u)
                var si = SIMD16<Float>(), sf = SIMD16<Float>(), sg = SIMD16<Float>(), so = SIMD16<Float>()
                for b in 0..<batch {
                    let g = G[b] + 4 * u
                    let i = load(g, n), f = load(g + n, n), z = load(g + 2 * n, n), o = load(g + 3 * n, n)
                    let tc = load(TC[b] + u, n)
                    var dhb = load(DH[b] + u, n)
                    if let d = DO { dhb += load(d[b] + u, n) }
                    let dcn = load(DC[b] + u, n) + dhb * o * (1 - tc * tc)
                    let cp = CP.map { load($0[b] + u, n) } ?? SIMD16()
                    let di = dcn * z * i * (1 - i)
                    let df = dcn * cp * f * (1 - f)
                    let dz = dcn * i * (1 - z * z)
                    let dO = dhb * tc * o * (1 - o)
                    store(di, g, n); store(df, g + n, n); store(dz, g + 2 * n, n); store(dO, g + 3 * n, n)
                    store(dcn * f, DC[b] + u, n)
                    if let x = DX?[b] {
                        // This thread's columns of the table row: no other thread writes them.
                        let r = x + 4 * u
                        store(load(r, n) + di, r, n); store(load(r + n, n) + df, r + n, n)
                        store(load(r + 2 * n, n) + dz, r + 2 * n, n); store(load(r + 3 * n, n) + dO, r + 3 * n, n)
                    }
                    si += di; sf += df; sg += dz; so += dO
                }
                if let db {
                    let d = db + 4 * u
                    store(load(d, n) + si, d, n)
                    store(load(d + n, n) + sf, d + n, n)
                    store(load(d + 2 * n, n) + sg, d + 2 * n, n)
                    store(load(d + 3 * n, n) + so, d + 3 * n, n)
                }
                u += n
            }
        }
    }

    package func gruCell(batch: Int, hidden: Int, gates: StridedView, hiddenGates: StridedView,
                         hPrev: StridedView?, h: StridedView) {
        let GI = Rows(gates), GH = Rows(hiddenGates), HP = Rows(hPrev), Hs = Rows(h)
        let H = hidden
        forEachUnitRange(hidden, work: cellWork(batch, hidden)) { units in
            var u = units.lowerBound
            while u < units.upperBound {
                let n = min(16, units.upperBound - u)
                for b in 0..<batch {
                    let gi = GI[b] + u, gh = GH[b] + u
                    let r = vtanh(0.5 * (load(gi, n) + load(gh, n))) * 0.5 + 0.5
                    let z = vtanh(0.5 * (load(gi + H, n) + load(gh + H, n))) * 0.5 + 0.5
                    let c = vtanh(load(gi + 2 * H, n) + r * load(gh + 2 * H, n))
                    let hp = HP.map { load($0[b] + u, n) } ?? SIMD16()
                    store(r, gi, n); store(z, gi + H, n); store(c, gi + 2 * H, n)
                    store(c + z * (hp - c), Hs[b] + u, n)
                }
                u += n
            }
        }
    }

    package func gruCellBackward(batch: Int, hidden: Int, gates: StridedView, hiddenGates: StridedView,
                                 hPrev: StridedView?, dOut: StridedView?, dhCarry: StridedView,
                                 dBias: Storage?, dHiddenBias: Storage?) {
        let GI = Rows(gates), GH = Rows(hiddenGates), HP = Rows(hPrev), DO = Rows(dOut), DH = Rows(dhCarry)
        let H = hidden
        let dbi = dBias?.pointer, dbh = dHiddenBias?.pointer
        forEachUnitRange(hidden, work: cellWork(batch, hidden)) { units in
            var u = units.lowerBound
            while u < units.upperBound {
                let n = min(16, units.upperBound - u)
                var sr = SIMD16<Float>(), sz = SIMD16<Float>(), sn = SIMD16<Float>(), shn = SIMD16<Float>()
                for b in 0..<batch {
                    let gi = GI[b] + u, gh = GH[b] + u
                    let r = load(gi, n), z = load(gi + H, n), c = load(gi + 2 * H, n), hn = load(gh + 2 * H, n)
                    var dh = load(DH[b] + u, n)
                    if let o = DO { dh += load(o[b] + u, n) }
                    let hp = HP.map { load($0[b] + u, n) } ?? SIMD16()
                    let dn = dh * (1 - z) * (1 - c * c)
                    let dr = dn * hn * r * (1 - r)
                    let dz = dh * (hp - c) * z * (1 - z)
                    store(dr, gi, n); store(dz, gi + H, n); store(dn, gi + 2 * H, n)
                    store(dr, gh, n); store(dz, gh + H, n); store(dn * r, gh + 2 * H, n)
                    store(dh * z, DH[b] + u, n)
                    sr += dr; sz += dz; sn += dn; shn += dn * r
                }
                if let dbi {
                    store(load(dbi + u, n) + sr, dbi + u, n)
                    store(load(dbi + H + u, n) + sz, dbi + H + u, n)
                    store(load(dbi + 2 * H + u, n) + sn, dbi + 2 * H + u, n)
                }
                if let dbh {
                    store(load(dbh + u, n) + sr, dbh + u, n)
                    store(load(dbh + H + u, n) + sz, dbh + H + u, n)
                    store(load(dbh + 2 * H + u, n) + shn, dbh + 2 * H + u, n)
                }
                u += n
            }
        }
    }
}
