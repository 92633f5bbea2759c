import Kiln
import Testing

/// Attention by composed ops (matmul, additive −∞ mask, softmax): the oracle of the fused kernel.
private func composedAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, causal: Bool) -> Tensor {
    let tq = q.shape[q.rank - 2], tk = k.shape[k.rank - 2], d = q.shape[q.rank - 1]
    var s = q.matmul(k.transposed()) * (1 / Float(d).squareRoot())
    if causal {
        s = s + Tensor(shape: [tq, tk]) { m in
            for i in 0..<tq { for j in 0..<tk { m[i * tk + j] = j <= i ? 0 : -Float.infinity } }
        }
    }
    return s.softmax().matmul(v)
}

@Suite struct AttentionGradientTests {
    @Test func gradientsCausalAndNot() {
        for causal in [false, true] {
            let q = random([2, 2, 5, 3], seed: 1), k = random([2, 2, 5, 3], seed: 2), v = random([2, 2, 5, 4], seed: 3)
            gradCheck([q, k, v], "attention causal \(causal)") {
                scaledDotProductAttention($0[0], $0[1], $0[2], causal: causal)
            }
            // More keys than queries and fewer; one leading axis.
            for (tq, tk) in [(3, 7), (6, 2)] {
                let q = random([2, tq, 4], seed: 4), k = random([2, tk, 4], seed: 5), v = random([2, tk, 3], seed: 6)
                gradCheck([q, k, v], "attention \(tq)×\(tk) causal \(causal)") {
                    scaledDotProductAttention($0[0], $0[1], $0[2], causal: causal)
                }
            }
        }
    }

    @Test func causalGradientAcrossBlocksOf32Rows() {
        // 37 positions: two row blocks, the second partial.
        let q = random([1, 37, 3], seed: 7, in: -2...2), k = random([1, 37, 3], seed: 8, in: -2...2)
        let v = random([1, 37, 2], seed: 9)
        gradCheck([q, k, v], "causal attention over 37 positions") {
            scaledDotProductAttention($0[0], $0[1], $0[2], causal: true)
        }
    }

    @Test func gradientsThroughViews() {
        // q as a transposed view ([B, T, H, D] → [B, H, T, D]), k with strided rows.
        let q = random([2, 5, 2, 3], seed: 10), k = random([2, 2, 5, 6], seed: 11), v = random([2, 2, 5, 3], seed: 12)
        gradCheck([q, k, v], "attention of views") {
            scaledDotProductAttention($0[0].transposed(1, 2), $0[1].narrowed(axis: 3, start: 1, length: 3), $0[2], causal: true)
        }
        gradCheck([random([2, 4, 18], seed: 13)], "packed self-attention") { selfAttention($0[0], heads: 2, causal: true) }
        gradCheck([random([1, 3, 12], seed: 14)], "packed self-attention, not causal") {
            selfAttention($0[0], heads: 4, causal: false)
        }
    }

    @Test func fusedMatchesComposed() {
        // Sizes past the causal block (32) and big enough to split heads across threads.
        for causal in [true, false] {
            for (tq, tk) in [(70, 70), (40, 75), (75, 40)] {
                let q = random([2, 3, tq, 16], seed: 15, in: -2...2), k = random([2, 3, tk, 16], seed: 16, in: -2...2)
                let v = random([2, 3, tk, 8], seed: 17), dy = random([2, 3, tq, 8], seed: 18)
                func run(_ f: (Tensor, Tensor, Tensor) -> Tensor) -> [Tensor] {
                    let (ql, kl, vl) = (q.requiringGrad(), k.requiringGrad(), v.requiringGrad())
                    let y = f(ql, kl, vl)
                    (y * dy).sum().backward()
                    return [y, ql.grad!, kl.grad!, vl.grad!]
                }
                let fused = run { scaledDotProductAttention($0, $1, $2, causal: causal) }
                let composed = run { composedAttention($0, $1, $2, causal: causal) }
                for (i, name) in ["out", "dq", "dk", "dv"].enumerated() {
                    expectClose(fused[i], composed[i], atol: 1e-5, rtol: 1e-4, "\(tq)×\(tk) causal \(causal): \(name)")
                }
            }
        }
    }

    @Test func packedMatchesSeparateHeads() {
        let (batch, time, heads, d) = (2, 33, 4, 8)
        let width = heads * d
        let qkv = random([batch, time, 3 * width], seed: 19)
        let dy = random([batch, time, width], seed: 20)
        for causal in [true, false] {
            let a = qkv.requiringGrad()
            let packed = selfAttention(a, heads: heads, causal: causal)
            (packed * dy).sum().backward()
            let b = qkv.requiringGrad()
            func split(_ i: Int) -> Tensor {
                b.narrowed(axis: 2, start: i * width, length: width).reshaped([batch, time, heads, d]).transposed(1, 2)
            }
            let separate = scaledDotProductAttention(split(0), split(1), split(2), causal: causal)
                .transposed(1, 2).reshaped([batch, time, width])
            (separate * dy).sum().backward()
            expectClose(packed, separate, atol: 1e-6, rtol: 1e-5, "output, causal \(causal)")
            expectClose(a.grad!, b.grad!, atol: 1e-6, rtol: 1e-5, "gradient, causal \(causal)")
        }
    }

    @Test func causalMaskHidesTheFuture() {
        // Changing later values must not change earlier outputs.
        let q = random([1, 6, 4], seed: 21), k = random([1, 6, 4], seed: 22), v = random([1, 6, 4], seed: 23)
        let y1 = scaledDotProductAttention(q, k, v, causal: true)
        let v2 = Tensor.concatenate([v.narrowed(axis: 1, start: 0, length: 3), random([1, 3, 4], seed: 24)], axis: 1)
        let y2 = scaledDotProductAttention(q, k, v2, causal: true)
        #expect(y1.narrowed(axis: 1, start: 0, length: 3).scalars == y2.narrowed(axis: 1, start: 0, length: 3).scalars)
        #expect(y1.narrowed(axis: 1, start: 3, length: 3).scalars != y2.narrowed(axis: 1, start: 3, length: 3).scalars)
        // The first position sees only itself.
        expectClose(y1.narrowed(axis: 1, start: 0, length: 1).scalars, v.narrowed(axis: 1, start: 0, length: 1).scalars,
                    "first position")
    }
}
