import KilnCompute

// Views: each changes the layout only and shares storage. Backward maps the gradient back
// through the inverse view (or, for narrowing, into a zero tensor of the input's shape).

extension Tensor {
    package func withLayout(_ l: Layout, name: StaticString = #function,
                            _ pullback: @escaping (Tensor) -> Tensor) -> Tensor {
        Tensor(storage: storage, layout: l).recorded(from: [self], name: name) { [pullback($0)] }
    }

    package func normalizedAxis(_ axis: Int, rank r: Int? = nil) -> Int {
        let r = r ?? rank
        let a = axis < 0 ? axis + r : axis
        precondition(a >= 0 && a < Swift.max(r, 1), "axis \(axis) out of range for rank \(r)")
        return a
    }

    /// The same elements with a new shape; one dimension may be -1 (inferred). A view when the
    /// layout allows, else a copy.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var target = newShape
        if let i = target.firstIndex(of: -1) {
            let known = target.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0, "reshape: can't infer -1 in \(newShape) for \(count) elements")
            target[i] = count / known
        }
        precondition(target.reduce(1, *) == count, "reshape: can't reshape \(shape) (\(count) elements) to \(newShape)")
        let original = shape
        if let l = layout.reshaped(target) {
            return withLayout(l) { $0.reshaped(original) }
        }
        return copied().reshaped(target)
    }

    /// Flattens axes `startAxis...` into one.
    public func flattened(startAxis: Int = 0) -> Tensor {
        let a = normalizedAxis(startAxis)
        return reshaped(Array(shape[..<a]) + [shape[a...].reduce(1, *)])
    }

    /// Reorders the axes: result axis i is input axis `axes[i]`.
    public func permuted(_ axes: [Int]) -> Tensor {
        let axes = axes.map { normalizedAxis($0) }
        var inverse = [Int](repeating: 0, count: axes.count)
        for (i, a) in axes.enumerated() { inverse[a] = i }
        return withLayout(layout.permuted(axes)) { $0.permuted(inverse) }
    }

    /// Swaps two axes (by default the last two).
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        let a = normalizedAxis(a), b = normalizedAxis(b)
        return withLayout(layout.transposed(a, b)) { $0.transposed(a, b) }
    }

    /// The elements `start..<start+length` along `axis`.
    public func narrowed(axis: Int, start: Int, length: Int) -> Tensor {
        let axis = normalizedAxis(axis)
        let inputShape = shape
        return withLayout(layout.narrowed(axis: axis, start: start, length: length)) { g in
            let full = Tensor.zeros(inputShape, device: g.device)
            full.narrowedView(axis: axis, start: start, length: length).assign(g)
            return full
        }
    }

    /// A plain (graph-free) narrowed view, for writing into.
    package func narrowedView(axis: Int, start: Int, length: Int) -> Tensor {
        Tensor(storage: storage, layout: layout.narrowed(axis: axis, start: start, length: length))
    }

    /// Every `step`-th element along `axis` from `start` (a view; `x[:, :, ::2]` in NumPy terms).
    public func strided(axis: Int, start: Int = 0, step: Int) -> Tensor {
        precondition(step >= 1, "strided: step must be positive, got \(step)")
        let axis = normalizedAxis(axis)
        precondition(start >= 0 && start <= shape[axis], "strided: start \(start) out of range for axis of size \(shape[axis])")
        var l = layout
        l.offset += start * l.strides[axis]
        l.shape[axis] = (shape[axis] - start + step - 1) / step
        l.strides[axis] *= step
        let inputShape = shape
        return withLayout(l) { g in
            let full = Tensor.zeros(inputShape, device: g.device)
            var target = full.layout
            target.offset += start * target.strides[axis]
            target.shape[axis] = g.shape[axis]
            target.strides[axis] *= step
            Tensor(storage: full.storage, layout: target).assign(g)
            return full
        }
    }

    /// Rows `range` along the first axis.
    public subscript(range: Range<Int>) -> Tensor {
        narrowed(axis: 0, start: range.lowerBound, length: range.count)
    }

    /// Index `i` along the first axis, with that axis removed.
    public subscript(i: Int) -> Tensor {
        let i = i < 0 ? i + shape[0] : i
        return narrowed(axis: 0, start: i, length: 1).squeezed(axis: 0)
    }

    /// Broadcasts to `newShape` (NumPy rules) without copying: broadcast axes get stride 0.
    public func expanded(to newShape: [Int]) -> Tensor {
        if newShape == shape { return self }
        let original = shape
        return withLayout(layout.expanded(to: newShape)) { $0.sumTo(original) }
    }

    /// Inserts a size-1 axis at `axis`.
    public func unsqueezed(axis: Int) -> Tensor {
        let a = normalizedAxis(axis, rank: rank + 1)
        return withLayout(layout.unsqueezed(a)) { $0.squeezed(axis: a) }
    }

    /// Removes the size-1 axis `axis`.
    public func squeezed(axis: Int) -> Tensor {
        let a = normalizedAxis(axis)
        return withLayout(layout.squeezed(a)) { $0.unsqueezed(axis: a) }
    }

    /// Removes every size-1 axis.
    public func squeezed() -> Tensor {
        reshaped(shape.filter { $0 != 1 })
    }

    /// Joins tensors of equal shape except along `axis`.
    public static func concatenate(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
        precondition(!tensors.isEmpty, "concatenate: no tensors")
        let first = tensors[0]
        let a = first.normalizedAxis(axis)
        var outShape = first.shape
        outShape[a] = 0
        for t in tensors {
            var s = t.shape
            precondition(s.count == first.rank, "concatenate: ranks differ (\(first.shape) vs \(t.shape))")
            s[a] = 0
            var o = outShape
            o[a] = 0
            precondition(s == o, "concatenate: shapes \(first.shape) and \(t.shape) differ off axis \(a)")
            outShape[a] += t.shape[a]
        }
        let out = first.empty(outShape)
        var start = 0
        var starts: [Int] = []
        for t in tensors {
            starts.append(start)
            out.narrowedView(axis: a, start: start, length: t.shape[a]).assign(t)
            start += t.shape[a]
        }
        let lengths = tensors.map { $0.shape[a] }
        return out.recorded(from: tensors) { g in
            zip(starts, lengths).map { g.narrowedView(axis: a, start: $0, length: $1) }
        }
    }

    /// Stacks tensors of equal shape along a new axis.
    public static func stack(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
        precondition(!tensors.isEmpty, "stack: no tensors")
        let a = tensors[0].normalizedAxis(axis, rank: tensors[0].rank + 1)
        return concatenate(tensors.map { $0.unsqueezed(axis: a) }, axis: a)
    }
}
