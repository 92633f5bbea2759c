/// Visits the elements of `shape` in row-major order for up to three operands with their own
/// strides, one innermost row at a time: `body(n, offsets, innerStrides)` handles `n` elements
/// starting at the operands' offsets. Axes that are contiguous for every operand are merged first,
/// so a dense tensor is a single row. Large loops are split across threads by rows (or, for one
/// long row, within it) unless `serial` is set (needed when rows may write the same output).
@inline(__always)
package func forEachRow(
    shape: [Int],
    _ s0: [Int], _ o0: Int,
    _ s1: [Int], _ o1: Int,
    _ s2: [Int] = [], _ o2: Int = 0,
    serial: Bool = false,
    _ body: (Int, (Int, Int, Int), (Int, Int, Int)) -> Void
) {
    let total = shape.reduce(1, *)
    if total == 0 { return }
    let three = !s2.isEmpty
    // Collapse: drop size-1 axes, merge axis i into i+1 when every operand allows it.
    var dims: [Int] = []
    var st0: [Int] = [], st1: [Int] = [], st2: [Int] = []
    dims.reserveCapacity(shape.count)
    for i in 0..<shape.count where shape[i] != 1 {
        if let last = dims.indices.last,
           st0[last] == s0[i] * shape[i], st1[last] == s1[i] * shape[i],
           !three || st2[last] == s2[i] * shape[i] {
            dims[last] *= shape[i]
            st0[last] = s0[i]; st1[last] = s1[i]
            if three { st2[last] = s2[i] }
        } else {
            dims.append(shape[i]); st0.append(s0[i]); st1.append(s1[i])
            st2.append(three ? s2[i] : 0)
        }
    }
    if dims.isEmpty { dims = [1]; st0 = [1]; st1 = [1]; st2 = [1] }
    let r = dims.count - 1
    let n = dims[r]
    let inner = (st0[r], st1[r], st2[r])
    let rows = total / n

    if rows == 1 {
        // One long row: split it.
        if serial { body(n, (o0, o1, o2), inner); return }
        parallelChunks(n, work: n) { range in
            body(range.count, (o0 + range.lowerBound * inner.0, o1 + range.lowerBound * inner.1,
                               o2 + range.lowerBound * inner.2), inner)
        }
        return
    }
    func visit(_ range: Range<Int>) {
        // Odometer over the outer axes, started at row range.lowerBound.
        var index = [Int](repeating: 0, count: r)
        var rem = range.lowerBound
        var a = o0, b = o1, c = o2
        for d in stride(from: r - 1, through: 0, by: -1) {
            index[d] = rem % dims[d]
            rem /= dims[d]
            a += index[d] * st0[d]; b += index[d] * st1[d]; c += index[d] * st2[d]
        }
        for _ in range {
            body(n, (a, b, c), inner)
            var d = r - 1
            while d >= 0 {
                index[d] += 1
                a += st0[d]; b += st1[d]; c += st2[d]
                if index[d] < dims[d] { break }
                a -= st0[d] * dims[d]; b -= st1[d] * dims[d]; c -= st2[d] * dims[d]
                index[d] = 0
                d -= 1
            }
        }
    }
    if serial { visit(0..<rows) } else { parallelChunks(rows, work: total, visit) }
}
