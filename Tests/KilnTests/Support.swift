import Kiln
import KilnCompute
import Testing

// Helpers shared by the Kiln tests: seeded random inputs, element-wise comparison, and the
// numerical gradient check that every differentiable op is held to.

/// Uniform random values in `range`, fixed by `seed`.
func random(_ shape: [Int], seed: UInt64, in range: ClosedRange<Float> = -1...1) -> Tensor {
    Tensor.uniform(shape, low: range.lowerBound, high: range.upperBound, generator: RandomGenerator(seed: seed))
}

/// Random values with `|x|` in `[gap, gap + 1)` and a random sign: kept away from the kinks of
/// relu/abs at 0 by more than any finite-difference step used here.
func awayFromZero(_ shape: [Int], seed: UInt64, gap: Float = 0.2) -> Tensor {
    let u = random(shape, seed: seed, in: 0...1).scalars
    let s = random(shape, seed: seed &+ 1000, in: -1...1).scalars
    return Tensor(zip(u, s).map { ($0.0 + gap) * ($0.1 < 0 ? -1 : 1) }, shape: shape)
}

/// `a` plus offsets of random sign with magnitude in `[gap, gap + 1)`: a second operand for
/// maximum/minimum that never ties with the first.
func apart(from a: Tensor, seed: UInt64, gap: Float = 0.2) -> Tensor {
    let d = awayFromZero(a.shape, seed: seed, gap: gap).scalars
    return Tensor(zip(a.scalars, d).map { $0 + $1 }, shape: a.shape)
}

/// Records an issue unless each element of `actual` is within `atol + rtol·|expected|`.
func expectClose(_ actual: [Float], _ expected: [Float], atol: Float = 1e-6, rtol: Float = 1e-5,
                 _ what: @autoclosure () -> String = "", sourceLocation: SourceLocation = #_sourceLocation) {
    guard actual.count == expected.count else {
        Issue.record("\(what()): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
        return
    }
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        // `!(… <= …)` also catches NaN.
        if !(Swift.abs(a - e) <= atol + rtol * Swift.abs(e)) {
            Issue.record("\(what()): element \(i) is \(a), expected \(e) (of \(actual.count))",
                         sourceLocation: sourceLocation)
            return
        }
    }
}

func expectClose(_ actual: Tensor, _ expected: Tensor, atol: Float = 1e-6, rtol: Float = 1e-5,
                 _ what: @autoclosure () -> String = "", sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.shape == expected.shape, "\(what()): shape", sourceLocation: sourceLocation)
    expectClose(actual.scalars, expected.scalars, atol: atol, rtol: rtol, what(), sourceLocation: sourceLocation)
}

/// Numerical gradient check of `f` at `inputs`.
///
/// The scalar loss is `Σ f(x) · w` with fixed random weights `w`, so every output element
/// matters. The analytic gradient comes from `backward()` on leaves made from `inputs`; the
/// numerical one from central differences of that loss, evaluated in Float32 by `f` and summed in
/// Double. `f` may apply views (transpose, narrow, expand) to its arguments, which checks the op on
/// non-contiguous inputs and the view's own backward together.
func gradCheck(
    _ inputs: [Tensor], eps: Float = 1e-2, atol: Double = 1e-3, rtol: Double = 5e-3,
    _ what: String, sourceLocation: SourceLocation = #_sourceLocation,
    _ f: ([Tensor]) -> Tensor
) {
    let shapes = inputs.map(\.shape)
    let base = inputs.map(\.scalars)
    func make(_ values: [[Float]]) -> [Tensor] { zip(values, shapes).map { Tensor($0, shape: $1) } }

    let leaves = make(base).map { $0.requiringGrad() }
    let y = f(leaves)
    let w = random(y.shape, seed: 0xC0FFEE, in: -1...1)
    let weights = w.scalars.map(Double.init)
    (y * w).sum().backward()

    func loss(_ values: [[Float]]) -> Double {
        noGrad {
            let out = f(make(values))
            precondition(out.shape == y.shape, "gradCheck: output shape changed")
            return zip(out.scalars, weights).reduce(0.0) { $0 + Double($1.0) * $1.1 }
        }
    }

    for i in inputs.indices {
        guard let g = leaves[i].grad else {
            Issue.record("\(what): no gradient for input \(i)", sourceLocation: sourceLocation)
            continue
        }
        guard g.shape == shapes[i] else {
            Issue.record("\(what): gradient of input \(i) has shape \(g.shape), expected \(shapes[i])",
                         sourceLocation: sourceLocation)
            continue
        }
        let analytic = g.scalars
        for j in base[i].indices {
            var plus = base, minus = base
            plus[i][j] += eps
            minus[i][j] -= eps
            let step = Double(plus[i][j]) - Double(minus[i][j])
            let numeric = (loss(plus) - loss(minus)) / step
            let a = Double(analytic[j])
            if !(Swift.abs(a - numeric) <= atol + rtol * Swift.abs(numeric)) {
                Issue.record("""
                    \(what): d/dx\(i)[\(j)] analytic \(a), numerical \(numeric) \
                    (input shape \(shapes[i]))
                    """, sourceLocation: sourceLocation)
                break
            }
        }
    }
}
