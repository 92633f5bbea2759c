import Kiln
import Testing

/// Distinct values at least 0.1 apart, shuffled: no ties, and a finite-difference step can't
/// change which element is the largest.
func spaced(_ shape: [Int], seed: UInt64) -> Tensor {
    let n = shape.reduce(1, *)
    let p = RandomGenerator(seed: seed).permutation(n)
    return Tensor(p.map { Float($0) * 0.1 - Float(n) * 0.05 }, shape: shape)
}

/// Axes to reduce over, with keepDims, for a rank-3 input.
struct Reduction: Sendable, CustomTestStringConvertible {
    let axes: [Int]?
    let keepDims: Bool
    var testDescription: String { "axes \(axes.map { "\($0)" } ?? "all") keepDims \(keepDims)" }

    static let all: [Reduction] = [[0], [1], [-1], [0, 2], [2, 0, 1], nil].flatMap { axes in
        [false, true].map { Reduction(axes: axes, keepDims: $0) }
    }
}

enum ReduceCase: CaseIterable, Sendable {
    case sum, mean, max, min, variance0, variance1

    func apply(_ x: Tensor, _ r: Reduction) -> Tensor {
        switch self {
        case .sum: x.sum(axes: r.axes, keepDims: r.keepDims)
        case .mean: x.mean(axes: r.axes, keepDims: r.keepDims)
        case .max: x.max(axes: r.axes, keepDims: r.keepDims)
        case .min: x.min(axes: r.axes, keepDims: r.keepDims)
        case .variance0: x.variance(axes: r.axes, keepDims: r.keepDims, correction: 0)
        case .variance1: x.variance(axes: r.axes, keepDims: r.keepDims, correction: 1)
        }
    }
}

@Suite struct ReductionGradientTests {
    @Test(arguments: ReduceCase.allCases, Reduction.all)
    func reduction(_ op: ReduceCase, _ r: Reduction) {
        let x = spaced([2, 3, 4], seed: 21)
        gradCheck([x], "\(op) \(r.testDescription)") { op.apply($0[0], r) }
        // A permuted (non-contiguous) input of the same shape.
        let y = spaced([4, 2, 3], seed: 22)
        gradCheck([y], "\(op) \(r.testDescription) of a permuted view") { op.apply($0[0].permuted([1, 2, 0]), r) }
    }

    @Test(arguments: ReduceCase.allCases)
    func reductionOfSlicesAndBroadcasts(_ op: ReduceCase) {
        let x = spaced([3, 6], seed: 23)
        gradCheck([x], "\(op) of a narrowed view, axis 1") {
            op.apply($0[0].narrowed(axis: 1, start: 2, length: 3), Reduction(axes: [1], keepDims: false))
        }
        // An expanded view repeats elements: sum/mean/variance only (max would tie).
        if op == .sum || op == .mean || op == .variance1 {
            let row = spaced([1, 4], seed: 24)
            gradCheck([row], "\(op) of an expanded view") {
                op.apply($0[0].expanded(to: [3, 4]) * Tensor([1, 2, 3], shape: [3, 1]), Reduction(axes: [0], keepDims: true))
            }
        }
    }

    @Test func singleAxisOverloads() {
        let x = spaced([3, 4], seed: 25)
        gradCheck([x], "sum(axis:)") { $0[0].sum(axis: 1) }
        gradCheck([x], "mean(axis:keepDims:)") { $0[0].mean(axis: 0, keepDims: true) }
        gradCheck([x], "max(axis:)") { $0[0].max(axis: -1) }
        gradCheck([x], "min(axis:)") { $0[0].min(axis: 0) }
        gradCheck([x], "sum()") { $0[0].sum() }
        gradCheck([x], "mean()") { $0[0].mean() }
    }

    @Test func maxTiesShareTheGradient() {
        let x = Tensor([1, 3, 3, 2, 0, 0], shape: [2, 3]).requiringGrad()
        x.max(axis: 1).sum().backward()
        #expect(x.grad?.scalars == [0, 0.5, 0.5, 1, 0, 0])
        let y = Tensor([1, 3, 3, 2, 0, 0], shape: [2, 3]).requiringGrad()
        y.min(axis: 1).sum().backward()
        #expect(y.grad?.scalars == [1, 0, 0, 0, 0.5, 0.5])
    }
}
