import KilnCompute

extension Tensor {
    /// This tensor with `padding[i].0` elements of `value` added before and `padding[i].1` after
    /// along each axis `i` (one pair per axis). The gradient is the inner part of the output's.
    ///
    /// ```swift
    /// x.padded([(0, 0), (0, 0), (1, 1), (1, 1)])   // [N, C, H, W] → [N, C, H + 2, W + 2]
    /// ```
    public func padded(_ padding: [(Int, Int)], value: Float = 0) -> Tensor {
        precondition(padding.count == rank, "padded: \(padding.count) (before, after) pairs for a tensor of shape \(shape)")
        precondition(padding.allSatisfy { $0.0 >= 0 && $0.1 >= 0 }, "padded: negative padding \(padding)")
        let outShape = zip(shape, padding).map { $0 + $1.0 + $1.1 }
        let out = empty(outShape)
        // Fill only the border (the slabs before and after the input along each axis), then copy
        // the input into the inside.
        for (axis, p) in padding.enumerated() {
            for (start, length) in [(0, p.0), (p.0 + shape[axis], p.1)] where length > 0 {
                backend.fill(StridedView(out.storage, out.layout.narrowed(axis: axis, start: start, length: length)), value: value)
            }
        }
        var inner = out.layout
        for (axis, p) in padding.enumerated() { inner = inner.narrowed(axis: axis, start: p.0, length: shape[axis]) }
        backend.copy(view, into: StridedView(out.storage, inner))
        return out.recorded(from: [self]) { g in
            var l = g.layout
            for (axis, p) in padding.enumerated() { l = l.narrowed(axis: axis, start: p.0, length: g.shape[axis] - p.0 - p.1) }
            return [Tensor(storage: g.storage, layout: l)]
        }
    }
}
