import KilnNN
import Testing

/// Uniform random values in `range`, fixed by `seed`.
func random(_ shape: [Int], seed: UInt64, in range: ClosedRange<Float> = -1...1) -> Tensor {
    Tensor.uniform(shape, low: range.lowerBound, high: range.upperBound, generator: RandomGenerator(seed: seed))
}

/// Records an issue unless each element of `actual` is within `atol + rtol·|expected|`.
func expectClose(_ actual: [Float], _ expected: [Float], atol: Float = 1e-6, rtol: Float = 1e-5,
                 _ what: @autoclosure () -> String = "", sourceLocation: SourceLocation = #_sourceLocation) {
    guard actual.count == expected.count else {
        Issue.record("\(what()): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
        return
    }
    for (i, (a, e)) in zip(actual, expected).enumerated() where !(Swift.abs(a - e) <= atol + rtol * Swift.abs(e)) {
        Issue.record("\(what()): element \(i) is \(a), expected \(e)", sourceLocation: sourceLocation)
        return
    }
}

/// Numerical gradient check of `f` at `inputs`: `backward()` of `Σ f(x)·w` (fixed random `w`)
/// against central differences of the same sum, evaluated in Float32 and summed in Double.
func gradCheck(_ inputs: [Tensor], eps: Float = 1e-2, atol: Double = 1e-3, rtol: Double = 5e-3,
               _ what: String, sourceLocation: SourceLocation = #_sourceLocation, _ f: ([Tensor]) -> Tensor) {
    let shapes = inputs.map(\.shape), base = inputs.map(\.scalars)
    func make(_ values: [[Float]]) -> [Tensor] { zip(values, shapes).map { Tensor($0, shape: $1) } }
    let leaves = make(base).map { $0.requiringGrad() }
    let y = f(leaves)
    let w = random(y.shape, seed: 0xC0FFEE)
    let weights = w.scalars.map(Double.init)
    (y * w).sum().backward()
    func loss(_ values: [[Float]]) -> Double {
        noGrad { zip(f(make(values)).scalars, weights).reduce(0.0) { $0 + Double($1.0) * $1.1 } }
    }
    for i in inputs.indices {
        guard let g = leaves[i].grad, g.shape == shapes[i] else {
            Issue.record("\(what): no gradient of shape \(shapes[i]) for input \(i)", sourceLocation: sourceLocation)
            continue
        }
        let analytic = g.scalars
        for j in base[i].indices {
            var plus = base, minus = base
            plus[i][j] += eps
            minus[i][j] -= eps
            let numeric = (loss(plus) - loss(minus)) / (Double(plus[i][j]) - Double(minus[i][j]))
            if !(Swift.abs(Double(analytic[j]) - numeric) <= atol + rtol * Swift.abs(numeric)) {
                Issue.record("\(what): d/dx\(i)[\(j)] analytic \(analytic[j]), numerical \(numeric)",
                             sourceLocation: sourceLocation)
                break
            }
        }
    }
}
