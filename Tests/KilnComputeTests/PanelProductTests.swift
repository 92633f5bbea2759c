@testable import KilnCompute
import Testing

/// Deterministic values in about [-1, 1].
private func values(_ n: Int, seed: Int) -> [Float] {
    (0..<n).map { Float((($0 + seed) * 7919 + seed * 104_729) % 2001) / 1000 - 1 }
}

@Suite struct PanelProductTests {
    /// `C (+)= A·B` through packed panels against a naive double-precision product, for shapes
    /// that use every kernel: 8-row blocks and single rows, panel pairs, one panel, a partial last
    /// panel; B read as stored (row stride) and transposed (column stride); padded rows of A and C.
    @Test(arguments: [(16, 64, 32), (11, 40, 9), (3, 16, 5), (9, 24, 17), (8, 7, 1)])
    func matchesNaiveProduct(_ m: Int, _ n: Int, _ k: Int) {
        let lda = k + 3, ldc = n + 2
        let a = values(m * lda, seed: 1), c0 = values(m * ldc, seed: 3)
        for transposed in [false, true] {
            // B `[k, n]`: stored row-major, or as the `[n, k]` matrix Bᵀ.
            let stored = values(k * n, seed: 2)
            let b = { (r: Int, col: Int) -> Float in transposed ? stored[col * k + r] : stored[r * n + col] }
            let packed = UnsafeMutablePointer<Float>.allocate(capacity: packedCount(k: k, n: n))
            defer { packed.deallocate() }
            stored.withUnsafeBufferPointer {
                packPanels($0.baseAddress!, k: k, n: n, rowStride: transposed ? 1 : n, columnStride: transposed ? k : 1,
                           into: packed)
            }
            for accumulate in [false, true] {
                var c = c0
                a.withUnsafeBufferPointer { a in
                    c.withUnsafeMutableBufferPointer { c in
                        panelProduct(m: m, n: n, k: k, a.baseAddress!, lda: lda, packed, c.baseAddress!, ldc: ldc,
                                     accumulate: accumulate)
                    }
                }
                var worst: (error: Double, at: String) = (0, "")
                for i in 0..<m {
                    for j in 0..<ldc {
                        var expected = Double(c0[i * ldc + j])
                        if j < n {
                            expected = accumulate ? expected : 0
                            for r in 0..<k { expected += Double(a[i * lda + r]) * Double(b(r, j)) }
                        }
                        let error = abs(Double(c[i * ldc + j]) - expected) / (1 + abs(expected))
                        if error > worst.error { worst = (error, "C[\(i), \(j)] = \(c[i * ldc + j]), expected \(expected)") }
                    }
                }
                #expect(worst.error <= 1e-5, "m \(m) n \(n) k \(k) transposed \(transposed) accumulate \(accumulate): \(worst.at)")
            }
        }
    }
}
