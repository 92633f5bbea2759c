import Kiln
import Testing

@Suite struct ViewGradientTests {
    @Test func reshapeFlattenSqueeze() {
        let x = random([2, 3, 4], seed: 1)
        gradCheck([x], "reshape") { $0[0].reshaped([4, -1]) }
        gradCheck([x], "reshape of a transposed view (copies)") { $0[0].transposed(0, 2).reshaped([6, 4]) }
        gradCheck([x], "flatten") { $0[0].flattened() }
        gradCheck([x], "flatten from axis 1") { $0[0].flattened(startAxis: 1) }
        let y = random([3, 1, 4, 1], seed: 2)
        gradCheck([y], "squeeze axis") { $0[0].squeezed(axis: 1) }
        gradCheck([y], "squeeze all") { $0[0].squeezed() }
        gradCheck([x], "unsqueeze") { $0[0].unsqueezed(axis: 1) * random([2, 1, 3, 4], seed: 3) }
        gradCheck([x], "unsqueeze at the end") { $0[0].unsqueezed(axis: -1) }
    }

    @Test func permuteTransposeNarrowSubscripts() {
        let x = random([2, 3, 4], seed: 4)
        gradCheck([x], "permute") { $0[0].permuted([2, 0, 1]) }
        gradCheck([x], "transpose") { $0[0].transposed(0, 1) }
        gradCheck([x], "narrow") { $0[0].narrowed(axis: 2, start: 1, length: 2) }
        gradCheck([x], "narrow twice") { $0[0].narrowed(axis: 1, start: 1, length: 2).narrowed(axis: 2, start: 0, length: 3) }
        gradCheck([x], "range subscript") { $0[0][1..<2] }
        gradCheck([x], "index subscript") { $0[0][1] }
        gradCheck([x], "negative index subscript") { $0[0][-2][2] }
    }

    @Test func expandAndTensorUsedThroughTwoViews() {
        let x = random([3, 1], seed: 5)
        gradCheck([x], "expand") { $0[0].expanded(to: [2, 3, 4]) }
        gradCheck([random([2, 3], seed: 6)], "x + xᵀᵀ") { $0[0] + $0[0].transposed().transposed() }
        gradCheck([random([3, 3], seed: 7)], "x · xᵀ") { $0[0] * $0[0].transposed() }
    }

    @Test func concatenateAndStack() {
        let a = random([2, 3], seed: 8), b = random([1, 3], seed: 9), c = random([4, 3], seed: 10)
        gradCheck([a, b, c], "concatenate axis 0") { Tensor.concatenate($0, axis: 0) }
        let d = random([2, 1], seed: 11), e = random([2, 4], seed: 12)
        gradCheck([a, d, e], "concatenate axis 1") { Tensor.concatenate($0, axis: 1) }
        gradCheck([a, a, a], "concatenate of transposed views") { Tensor.concatenate($0.map { $0.transposed() }, axis: -1) }
        let f = random([2, 3], seed: 13)
        gradCheck([a, f], "stack axis 0") { Tensor.stack($0) }
        gradCheck([a, f], "stack axis 1") { Tensor.stack($0, axis: 1) }
        gradCheck([a, f], "stack axis -1") { Tensor.stack($0, axis: -1) }
    }

    @Test func contiguousAndCopied() {
        let x = random([3, 4], seed: 14)
        gradCheck([x], "contiguous of contiguous") { $0[0].contiguous() * 2 }
        gradCheck([x], "contiguous of transposed") { $0[0].transposed().contiguous() }
        gradCheck([x], "copied") { $0[0].copied() }
        gradCheck([x], "copied of a slice") { $0[0].narrowed(axis: 0, start: 1, length: 2).copied() }
    }
}
