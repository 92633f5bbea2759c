import Kiln
import Testing

/// How an op's operand is presented: as a plain contiguous tensor or as a view of one.
enum Presentation: CaseIterable, Sendable {
    case contiguous, transposed, narrowed, expanded

    /// The shape of the base tensor whose view (by `view`) is `[3, 4]`.
    var baseShape: [Int] {
        switch self {
        case .contiguous: [3, 4]
        case .transposed: [4, 3]
        case .narrowed: [3, 6]
        case .expanded: [1, 4]
        }
    }

    func view(_ base: Tensor) -> Tensor {
        switch self {
        case .contiguous: base
        case .transposed: base.transposed()
        case .narrowed: base.narrowed(axis: 1, start: 1, length: 4)
        case .expanded: base.expanded(to: [3, 4])
        }
    }
}

enum UnaryCase: CaseIterable, Sendable {
    case neg, exp, log, sqrt, abs, tanh, sigmoid, relu, gelu, geluTanh, square, reciprocal
    case pow3, powHalf, powNegative, pow2

    func apply(_ x: Tensor) -> Tensor {
        switch self {
        case .neg: -x
        case .exp: x.exp()
        case .log: x.log()
        case .sqrt: x.sqrt()
        case .abs: x.abs()
        case .tanh: x.tanh()
        case .sigmoid: x.sigmoid()
        case .relu: x.relu()
        case .gelu: x.gelu()
        case .geluTanh: x.gelu(approximate: true)
        case .square: x.square()
        case .reciprocal: x.reciprocal()
        case .pow3: x.pow(3)
        case .powHalf: x.pow(0.5)
        case .powNegative: x.pow(-1.5)
        case .pow2: x.pow(2)
        }
    }

    /// An input inside the op's domain and away from its kinks.
    func input(_ shape: [Int], seed: UInt64) -> Tensor {
        switch self {
        case .log, .sqrt, .reciprocal, .powHalf, .powNegative: random(shape, seed: seed, in: 0.5...2)
        case .abs, .relu: awayFromZero(shape, seed: seed)
        default: random(shape, seed: seed, in: -2...2)
        }
    }
}

@Suite struct ElementwiseGradientTests {
    @Test(arguments: UnaryCase.allCases, Presentation.allCases)
    func unary(_ op: UnaryCase, _ p: Presentation) {
        let x = op.input(p.baseShape, seed: 11)
        gradCheck([x], "\(op) on \(p)") { op.apply(p.view($0[0])) }
    }

    @Test(arguments: Presentation.allCases)
    func binaryTensorTensor(_ p: Presentation) {
        // Left operand presented as `p`, right operand a plain [3, 4].
        let a = random(p.baseShape, seed: 1), b = random([3, 4], seed: 2, in: 0.5...2)
        gradCheck([a, b], "+ with lhs \(p)") { p.view($0[0]) + $0[1] }
        gradCheck([a, b], "- with lhs \(p)") { p.view($0[0]) - $0[1] }
        gradCheck([a, b], "* with lhs \(p)") { p.view($0[0]) * $0[1] }
        gradCheck([a, b], "/ with lhs \(p)") { p.view($0[0]) / $0[1] }
        // And the other way round.
        let c = random(p.baseShape, seed: 3, in: 0.5...2)
        gradCheck([b, c], "+ with rhs \(p)") { $0[0] + p.view($0[1]) }
        gradCheck([b, c], "- with rhs \(p)") { $0[0] - p.view($0[1]) }
        gradCheck([b, c], "* with rhs \(p)") { $0[0] * p.view($0[1]) }
        gradCheck([b, c], "/ with rhs \(p)") { $0[0] / p.view($0[1]) }
    }

    @Test func binaryBroadcastBothWays() {
        // [3, 1, 4] with [2, 1] broadcasts to [3, 2, 4]; both operands are summed back.
        let a = random([3, 1, 4], seed: 4), b = random([2, 1], seed: 5, in: 0.5...2)
        let ap = random([3, 1, 4], seed: 6, in: 0.5...2)
        gradCheck([a, b], "[3,1,4] + [2,1]") { $0[0] + $0[1] }
        gradCheck([b, a], "[2,1] + [3,1,4]") { $0[0] + $0[1] }
        gradCheck([a, b], "[3,1,4] - [2,1]") { $0[0] - $0[1] }
        gradCheck([b, a], "[2,1] - [3,1,4]") { $0[0] - $0[1] }
        gradCheck([a, b], "[3,1,4] * [2,1]") { $0[0] * $0[1] }
        gradCheck([b, a], "[2,1] * [3,1,4]") { $0[0] * $0[1] }
        gradCheck([a, b], "[3,1,4] / [2,1]") { $0[0] / $0[1] }
        gradCheck([b, ap], "[2,1] / [3,1,4]") { $0[0] / $0[1] }
        // A 0-d operand and a [4] row.
        let s = random([], seed: 7, in: 0.5...2), row = random([4], seed: 8, in: 0.5...2)
        gradCheck([a, s], "[3,1,4] * scalar tensor") { $0[0] * $0[1] }
        gradCheck([row, a], "[4] / [3,1,4]") { $0[0] / ($0[1] + 3) }
    }

    @Test func tensorScalar() {
        let a = random([3, 4], seed: 9), pos = random([3, 4], seed: 10, in: 0.5...2)
        gradCheck([a], "a + 1.5") { $0[0] + 1.5 }
        gradCheck([a], "1.5 + a") { 1.5 + $0[0] }
        gradCheck([a], "a - 1.5") { $0[0] - 1.5 }
        gradCheck([a], "1.5 - a") { 1.5 - $0[0] }
        gradCheck([a], "a * -2.5") { $0[0] * -2.5 }
        gradCheck([a], "-2.5 * a") { -2.5 * $0[0] }
        gradCheck([a], "a / 0.75") { $0[0] / 0.75 }
        gradCheck([pos], "3 / a") { 3 / $0[0] }
        // On a transposed view too.
        gradCheck([pos], "3 / aᵀ") { 3 / $0[0].transposed() }
        gradCheck([a], "1.5 - aᵀ") { 1.5 - $0[0].transposed() }
    }

    @Test func maximumAndMinimum() {
        let a = random([3, 4], seed: 12), b = apart(from: a, seed: 13)
        gradCheck([a, b], "maximum") { maximum($0[0], $0[1]) }
        gradCheck([a, b], "minimum") { minimum($0[0], $0[1]) }
        gradCheck([a, b], "maximum(aᵀ, bᵀ)") { maximum($0[0].transposed(), $0[1].transposed()) }
        // Broadcast: |a| ≥ 0.3 against b in [-0.1, 0.1], signs mixed so both sides win somewhere.
        let big = awayFromZero([3, 4], seed: 14, gap: 0.3), small = random([4], seed: 15, in: -0.1...0.1)
        gradCheck([big, small], "maximum broadcast") { maximum($0[0], $0[1]) }
        gradCheck([small, big], "minimum broadcast") { minimum($0[0], $0[1]) }
    }

    @Test func maximumTiesSplitTheGradient() {
        let a = Tensor([1, 2, 3]).requiringGrad(), b = Tensor([1, 5, 0]).requiringGrad()
        maximum(a, b).sum().backward()
        #expect(a.grad?.scalars == [0.5, 0, 1])
        #expect(b.grad?.scalars == [0.5, 1, 0])
        let c = Tensor([4, 4]).requiringGrad(), d = Tensor([4, 9]).requiringGrad()
        minimum(c, d).sum().backward()
        #expect(c.grad?.scalars == [0.5, 1])
        #expect(d.grad?.scalars == [0.5, 0])
    }

    @Test func unaryForwardValues() {
        let x = Tensor([-2, -0.5, 0.25, 1.5])
        let xs = x.scalars.map(Double.init)
        func check(_ y: Tensor, _ f: (Double) -> Double, _ what: String, tol: Float = 2e-6) {
            expectClose(y.scalars, xs.map { Float(f($0)) }, atol: tol, rtol: tol, what)
        }
        check(-x, { -$0 }, "neg")
        check(x.exp(), { exp($0) }, "exp")
        check(x.abs(), { Swift.abs($0) }, "abs")
        check(x.tanh(), { tanh($0) }, "tanh")
        check(x.sigmoid(), { 1 / (1 + exp(-$0)) }, "sigmoid")
        check(x.relu(), { Swift.max($0, 0) }, "relu")
        check(x.gelu(), { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) }, "gelu")
        check(x.gelu(approximate: true),
              { 0.5 * $0 * (1 + tanh((2 / Double.pi).squareRoot() * ($0 + 0.044715 * $0 * $0 * $0))) }, "gelu tanh")
        check(x.square(), { $0 * $0 }, "square")
        check(x.reciprocal(), { 1 / $0 }, "reciprocal")
        let p = Tensor([0.5, 1, 2.25, 4])
        let ps = p.scalars.map(Double.init)
        expectClose(p.log().scalars, ps.map { Float(log($0)) }, atol: 1e-6, "log")
        expectClose(p.sqrt().scalars, ps.map { Float($0.squareRoot()) }, "sqrt")
        expectClose(p.pow(1.5).scalars, ps.map { Float(pow($0, 1.5)) }, "pow 1.5")
        expectClose(p.pow(-1).scalars, ps.map { Float(1 / $0) }, "pow -1")
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
