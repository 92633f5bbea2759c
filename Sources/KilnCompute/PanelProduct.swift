// A matrix product whose right-hand side was packed once into panels of 16 columns, for products
// repeated many times with the same weight: the recurrent product of every LSTM step.
//
// `P` packed from a `[k, n]` matrix B (n a multiple of 16) is `[n/16][k][16]`: panel q holds
// columns 16q ..< 16q + 16, row after row. The kernel keeps an 8 × 32 block of C in 16 vector
// registers and, per step of the reduction, loads two panel rows and broadcasts 8 elements of A
// (AVX-512: 16 fused multiply-adds from 2 loads and 8 broadcasts).
//
// NOTE: OpenBLAS packs both operands of every call: `W_hh` (1 MB at 256 units) was packed twice
// per LSTM time step. Packed once per sequence instead, the `lstm` benchmark's training step went
// from 103 to 85.5 ms on one core (`kiln bench lstm --threads 1`, medians of 2 alternating runs).

/// `acc += a·b`: one fused multiply-add where the build targets a CPU with FMA (`KILN_FMA`, set by
/// Scripts/build-release.sh), else a multiply and an add: without the instruction, a fused
/// multiply-add is 16 calls of `fmaf`.
///
/// NOTE: on Zen 4 the separate multiply and add made the LSTM benchmark's step 20% slower.
@inline(__always)
private func madd(_ acc: inout SIMD16<Float>, _ a: SIMD16<Float>, _ b: SIMD16<Float>) {
    #if KILN_FMA
    acc.addProduct(a, b)
    #else
    acc += a * b
    #endif
}

/// `SIMD16` from 16 floats at any alignment.
@inline(__always)
private func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always)
private func store16(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>, accumulate: Bool) {
    let r = UnsafeMutableRawPointer(p)
    r.storeBytes(of: accumulate ? v + r.loadUnaligned(as: SIMD16<Float>.self) : v, as: SIMD16<Float>.self)
}

/// Elements of `n` columns packed in panels of 16 rows of `k`: the last panel is padded with zeros.
package func packedCount(k: Int, n: Int) -> Int { (n + 15) / 16 * 16 * k }

/// Packs the `[k, n]` matrix `b` (element `(r, c)` at `b + r·rowStride + c·columnStride`) into
/// panels of 16 columns (`packedCount(k:n:)` elements at `p`).
package func packPanels(_ b: UnsafePointer<Float>, k: Int, n: Int, rowStride: Int, columnStride: Int,
                        into p: UnsafeMutablePointer<Float>) {
    for q in 0..<((n + 15) / 16) {
        let width = Swift.min(16, n - 16 * q)
        for r in 0..<k {
            let src = b + r * rowStride + 16 * q * columnStride, dst = p + (q * k + r) * 16
            if columnStride == 1 {
                dst.update(from: src, count: width)
            } else {
                for c in 0..<width { dst[c] = src[c * columnStride] }
            }
            (dst + width).update(repeating: 0, count: 16 - width)
        }
    }
}

/// `C[m, n] (+)= A[m, k] · B`, with B's panels packed by `packPanels` from `p` on (column 0 of C
/// is column 0 of the first panel). Rows of A and C are `lda` and `ldc` apart; single-threaded.
package func panelProduct(m: Int, n: Int, k: Int, _ a: UnsafePointer<Float>, lda: Int, _ p: UnsafePointer<Float>,
                          _ c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
    var q = 0
    while 16 * q < n {
        let pq = p + q * 16 * k, cq = c + 16 * q
        let width = n - 16 * q
        if width < 16 {
            // A partial last panel: whole rows of 16 into a tile, then the columns that exist.
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { tile in
                for r in 0..<m {
                    kernel1(a + r * lda, pq, k, tile.baseAddress!, panels: 1, accumulate: false)
                    let row = cq + r * ldc
                    for j in 0..<width { row[j] = accumulate ? row[j] + tile[j] : tile[j] }
                }
            }
            return
        }
        let pair = width >= 32
        var r = 0
        while r + 8 <= m {
            if pair {
                kernel8x32(a + r * lda, lda, pq, k, cq + r * ldc, ldc, accumulate: accumulate)
            } else {
                kernel8x16(a + r * lda, lda, pq, k, cq + r * ldc, ldc, accumulate: accumulate)
            }
            r += 8
        }
        while r < m {
            kernel1(a + r * lda, pq, k, cq + r * ldc, panels: pair ? 2 : 1, accumulate: accumulate)
            r += 1
        }
        q += pair ? 2 : 1
    }
}

/// 8 rows × two panels.
@inline(__always)
private func kernel8x32(_ a: UnsafePointer<Float>, _ lda: Int, _ p: UnsafePointer<Float>, _ k: Int,
                        _ c: UnsafeMutablePointer<Float>, _ ldc: Int, accumulate: Bool) {
    var c00 = SIMD16<Float>(), c01 = SIMD16<Float>(), c10 = SIMD16<Float>(), c11 = SIMD16<Float>()
    var c20 = SIMD16<Float>(), c21 = SIMD16<Float>(), c30 = SIMD16<Float>(), c31 = SIMD16<Float>()
    var c40 = SIMD16<Float>(), c41 = SIMD16<Float>(), c50 = SIMD16<Float>(), c51 = SIMD16<Float>()
    var c60 = SIMD16<Float>(), c61 = SIMD16<Float>(), c70 = SIMD16<Float>(), c71 = SIMD16<Float>()
    let a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda
    let a4 = a + 4 * lda, a5 = a + 5 * lda, a6 = a + 6 * lda, a7 = a + 7 * lda
    let p1 = p + 16 * k
    for i in 0..<k {
        let b0 = load16(p + 16 * i), b1 = load16(p1 + 16 * i)
        var x = SIMD16<Float>(repeating: a0[i]); madd(&c00, x, b0); madd(&c01, x, b1)
        x = SIMD16<Float>(repeating: a1[i]); madd(&c10, x, b0); madd(&c11, x, b1)
        x = SIMD16<Float>(repeating: a2[i]); madd(&c20, x, b0); madd(&c21, x, b1)
        x = SIMD16<Float>(repeating: a3[i]); madd(&c30, x, b0); madd(&c31, x, b1)
        x = SIMD16<Float>(repeating: a4[i]); madd(&c40, x, b0); madd(&c41, x, b1)
        x = SIMD16<Float>(repeating: a5[i]); madd(&c50, x, b0); madd(&c51, x, b1)
        x = SIMD16<Float>(repeating: a6[i]); madd(&c60, x, b0); madd(&c61, x, b1)
        x = SIMD16<Float>(repeating: a7[i]); madd(&c70, x, b0); madd(&c71, x, b1)
    }
    store16(c00, c, accumulate: accumulate); store16(c01, c + 16, accumulate: accumulate)
    store16(c10, c + ldc, accumulate: accumulate); store16(c11, c + ldc + 16, accumulate: accumulate)
    store16(c20, c + 2 * ldc, accumulate: accumulate); store16(c21, c + 2 * ldc + 16, accumulate: accumulate)
    store16(c30, c + 3 * ldc, accumulate: accumulate); store16(c31, c + 3 * ldc + 16, accumulate: accumulate)
    store16(c40, c + 4 * ldc, accumulate: accumulate); store16(c41, c + 4 * ldc + 16, accumulate: accumulate)
    store16(c50, c + 5 * ldc, accumulate: accumulate); store16(c51, c + 5 * ldc + 16, accumulate: accumulate)
    store16(c60, c + 6 * ldc, accumulate: accumulate); store16(c61, c + 6 * ldc + 16, accumulate: accumulate)
    store16(c70, c + 7 * ldc, accumulate: accumulate); store16(c71, c + 7 * ldc + 16, accumulate: accumulate)
}

/// 8 rows × one panel.
@inline(__always)
private func kernel8x16(_ a: UnsafePointer<Float>, _ lda: Int, _ p: UnsafePointer<Float>, _ k: Int,
                        _ c: UnsafeMutablePointer<Float>, _ ldc: Int, accumulate: Bool) {
    var c0 = SIMD16<Float>(), c1 = SIMD16<Float>(), c2 = SIMD16<Float>(), c3 = SIMD16<Float>()
    var c4 = SIMD16<Float>(), c5 = SIMD16<Float>(), c6 = SIMD16<Float>(), c7 = SIMD16<Float>()
    let a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda
    let a4 = a + 4 * lda, a5 = a + 5 * lda, a6 = a + 6 * lda, a7 = a + 7 * lda
    for i in 0..<k {
        let b0 = load16(p + 16 * i)
        madd(&c0, SIMD16(repeating: a0[i]), b0); madd(&c1, SIMD16(repeating: a1[i]), b0)
        madd(&c2, SIMD16(repeating: a2[i]), b0); madd(&c3, SIMD16(repeating: a3[i]), b0)
        madd(&c4, SIMD16(repeating: a4[i]), b0); madd(&c5, SIMD16(repeating: a5[i]), b0)
        madd(&c6, SIMD16(repeating: a6[i]), b0); madd(&c7, SIMD16(repeating: a7[i]), b0)
    }
    store16(c0, c, accumulate: accumulate); store16(c1, c + ldc, accumulate: accumulate)
    store16(c2, c + 2 * ldc, accumulate: accumulate); store16(c3, c + 3 * ldc, accumulate: accumulate)
    store16(c4, c + 4 * ldc, accumulate: accumulate); store16(c5, c + 5 * ldc, accumulate: accumulate)
    store16(c6, c + 6 * ldc, accumulate: accumulate); store16(c7, c + 7 * ldc, accumulate: accumulate)
}

/// One row × one or two panels.
@inline(__always)
private func kernel1(_ a: UnsafePointer<Float>, _ p: UnsafePointer<Float>, _ k: Int,
                     _ c: UnsafeMutablePointer<Float>, panels: Int, accumulate: Bool) {
    for q in 0..<panels {
        let pq = p + q * 16 * k
        var s = SIMD16<Float>()
        for i in 0..<k { madd(&s, SIMD16(repeating: a[i]), load16(pq + 16 * i)) }
        store16(s, c + 16 * q, accumulate: accumulate)
    }
}
