import Kiln
import Testing

/// `layerNorm` by composed ops: the independent oracle of the fused kernels.
private func composedLayerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, epsilon: Float = 1e-5) -> Tensor {
    let centered = x - x.mean(axis: -1, keepDims: true)
    let variance = centered.square().mean(axis: -1, keepDims: true)
    var y = centered / (variance + epsilon).sqrt()
    if let weight { y = y * weight }
    if let bias { y = y + bias }
    return y
}

@Suite struct LayerNormGradientTests {
    @Test func gradientsWithAndWithoutAffineParameters() {
        // 21 features: one SIMD block of 16 plus a tail.
        let x = random([2, 3, 21], seed: 1, in: -2...2)
        let w = random([21], seed: 2, in: 0.5...1.5), b = random([21], seed: 3)
        gradCheck([x, w, b], "layerNorm with weight and bias") { layerNorm($0[0], weight: $0[1], bias: $0[2]) }
        gradCheck([x, w], "layerNorm with weight only") { layerNorm($0[0], weight: $0[1], bias: nil) }
        gradCheck([x, b], "layerNorm with bias only") { layerNorm($0[0], weight: nil, bias: $0[1]) }
        gradCheck([x], "layerNorm without parameters") { layerNorm($0[0], weight: nil, bias: nil) }
        gradCheck([random([5, 4], seed: 4, in: -2...2), random([5], seed: 5)], "layerNorm of a transposed view") {
            layerNorm($0[0].transposed(), weight: $0[1], bias: nil, epsilon: 1e-3)
        }
    }

    @Test func fusedMatchesComposed() {
        // 300 × 96: the backward kernel splits rows across threads and sums partial dW/db.
        for (rows, cols) in [(3, 7), (300, 96)] {
            let x = random([rows, cols], seed: 6, in: -3...3) + random([rows, 1], seed: 7, in: -20...20)
            let w = random([cols], seed: 8, in: 0.5...1.5), b = random([cols], seed: 9)
            let dy = random([rows, cols], seed: 10)
            for (useW, useB) in [(true, true), (true, false), (false, false)] {
                func run(_ f: (Tensor, Tensor?, Tensor?) -> Tensor) -> [Tensor?] {
                    let (xl, wl, bl) = (x.requiringGrad(), w.requiringGrad(), b.requiringGrad())
                    let y = f(xl, useW ? wl : nil, useB ? bl : nil)
                    (y * dy).sum().backward()
                    return [y, xl.grad, useW ? wl.grad : nil, useB ? bl.grad : nil]
                }
                let fused = run { layerNorm($0, weight: $1, bias: $2) }
                let composed = run { composedLayerNorm($0, weight: $1, bias: $2) }
                for (i, name) in ["y", "dx", "dweight", "dbias"].enumerated() {
                    guard let f = fused[i], let c = composed[i] else {
                        #expect((fused[i] == nil) == (composed[i] == nil), "\(name) present in one only")
                        continue
                    }
                    expectClose(f, c, atol: 2e-5, rtol: 2e-4, "\(rows)×\(cols) w \(useW) b \(useB): \(name)")
                }
            }
        }
    }

    @Test func statisticsMatchTheDefinition() {
        // A row with a large mean and a small spread: E[x²] − E[x]² would lose it.
        let x = Tensor([1000, 1001, 1002, 1003], shape: [1, 4])
        let y = layerNorm(x, weight: nil, bias: nil, epsilon: 0)
        let s = Float(1.25).squareRoot()
        expectClose(y.scalars, [-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s], atol: 1e-5, "normalized row")
    }
}
