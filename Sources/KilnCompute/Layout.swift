/// How a tensor's elements sit in its storage: a shape, one stride per axis (in elements) and an
/// offset. Views (reshape, transpose, slice, broadcast) change the layout only, never the storage.
package struct Layout: Equatable, Sendable, CustomStringConvertible {
    package var shape: [Int]
    package var strides: [Int]
    package var offset: Int

    /// A row-major contiguous layout of `shape`.
    package init(contiguous shape: [Int], offset: Int = 0) {
        self.shape = shape
        self.strides = Layout.contiguousStrides(shape)
        self.offset = offset
    }

    package init(shape: [Int], strides: [Int], offset: Int) {
        precondition(shape.count == strides.count, "Layout: \(shape.count) dims but \(strides.count) strides")
        self.shape = shape
        self.strides = strides
        self.offset = offset
    }

    package static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var s = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i] = s
            s *= shape[i]
        }
        return strides
    }

    package var rank: Int { shape.count }
    package var count: Int { shape.reduce(1, *) }

    /// True when the elements are row-major and dense from `offset` on (size-1 axes may have any stride).
    package var isContiguous: Bool {
        var expected = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) where shape[i] != 1 {
            if strides[i] != expected { return false }
            expected *= shape[i]
        }
        return true
    }

    /// The largest element index this layout touches, plus one (0 for an empty layout).
    package var span: Int {
        if shape.contains(0) { return 0 }
        var last = offset
        for (n, s) in zip(shape, strides) { last += (n - 1) * s }
        return last + 1
    }

    package var description: String { "Layout(shape: \(shape), strides: \(strides), offset: \(offset))" }

    // MARK: views

    package func permuted(_ axes: [Int]) -> Layout {
        precondition(axes.sorted() == Array(0..<rank), "permute: \(axes) is not a permutation of 0..<\(rank)")
        return Layout(shape: axes.map { shape[$0] }, strides: axes.map { strides[$0] }, offset: offset)
    }

    package func transposed(_ a: Int, _ b: Int) -> Layout {
        var l = self
        l.shape.swapAt(a, b)
        l.strides.swapAt(a, b)
        return l
    }

    /// A view with `newShape`, or nil when the elements can't be addressed with strides (then copy).
    package func reshaped(_ newShape: [Int]) -> Layout? {
        precondition(newShape.reduce(1, *) == count, "reshape: can't view \(shape) as \(newShape)")
        if isContiguous { return Layout(contiguous: newShape, offset: offset) }
        // Strided view: split/merge axes within groups that are themselves contiguous (PyTorch's rule).
        var newStrides = [Int](repeating: 0, count: newShape.count)
        var viewD = newShape.count - 1
        var chunkBase = strides.last ?? 1
        var tensorNumel = 1
        var viewNumel = 1
        for d in stride(from: rank - 1, through: 0, by: -1) {
            tensorNumel *= shape[d]
            if d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tensorNumel * chunkBase) {
                while viewD >= 0 && (viewNumel < tensorNumel || newShape[viewD] == 1) {
                    newStrides[viewD] = viewNumel * chunkBase
                    viewNumel *= newShape[viewD]
                    viewD -= 1
                }
                if viewNumel != tensorNumel { return nil }
                if d > 0 {
                    chunkBase = strides[d - 1]
                    tensorNumel = 1
                    viewNumel = 1
                }
            }
        }
        if viewD != -1 { return nil }
        return Layout(shape: newShape, strides: newStrides, offset: offset)
    }

    package func narrowed(axis: Int, start: Int, length: Int) -> Layout {
        precondition(start >= 0 && length >= 0 && start + length <= shape[axis],
                     "narrow: range \(start)..<\(start + length) out of bounds for axis \(axis) of size \(shape[axis])")
        var l = self
        l.offset += start * strides[axis]
        l.shape[axis] = length
        return l
    }

    /// Broadcasts to `target` (NumPy rules): new leading axes and size-1 axes get stride 0.
    package func expanded(to target: [Int]) -> Layout {
        precondition(target.count >= rank, "expand: can't expand \(shape) to fewer dims \(target)")
        let lead = target.count - rank
        var newStrides = [Int](repeating: 0, count: target.count)
        for i in 0..<rank {
            if shape[i] == target[lead + i] {
                newStrides[lead + i] = strides[i]
            } else {
                precondition(shape[i] == 1, "expand: can't broadcast \(shape) to \(target)")
            }
        }
        return Layout(shape: target, strides: newStrides, offset: offset)
    }

    package func unsqueezed(_ axis: Int) -> Layout {
        var l = self
        let stride = axis < rank ? strides[axis] * shape[axis] : 1
        l.shape.insert(1, at: axis)
        l.strides.insert(stride, at: axis)
        return l
    }

    package func squeezed(_ axis: Int) -> Layout {
        precondition(shape[axis] == 1, "squeeze: axis \(axis) of \(shape) has size \(shape[axis]), not 1")
        var l = self
        l.shape.remove(at: axis)
        l.strides.remove(at: axis)
        return l
    }
}

/// The NumPy broadcast of two shapes, or nil when they are incompatible.
package func broadcastShapes(_ a: [Int], _ b: [Int]) -> [Int]? {
    let n = max(a.count, b.count)
    var out = [Int](repeating: 1, count: n)
    for i in 0..<n {
        let x = i < n - a.count ? 1 : a[i - (n - a.count)]
        let y = i < n - b.count ? 1 : b[i - (n - b.count)]
        if x == y || y == 1 { out[i] = x } else if x == 1 { out[i] = y } else { return nil }
    }
    return out
}

extension Layout {
    /// The row distance of the last two axes read as matrices with dense rows, one per index of the
    /// leading axes (attention's `[..., rows, cols]` operands); stops, naming `what`, when they are
    /// not such matrices.
    package func headMatrixRowStride(_ what: String) -> Int {
        let r = rank
        precondition(r >= 2, "\(what) needs rank ≥ 2, got \(shape)")
        let rows = shape[r - 2], cols = shape[r - 1]
        precondition(cols <= 1 || strides[r - 1] == 1, "\(what) needs dense rows, got \(self)")
        let ld = rows <= 1 ? Swift.max(cols, 1) : strides[r - 2]
        precondition(ld >= cols, "\(what) rows overlap in \(self)")
        return ld
    }
}
