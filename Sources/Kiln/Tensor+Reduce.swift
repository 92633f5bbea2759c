import KilnCompute

extension Tensor {
    package func normalizedAxes(_ axes: [Int]) -> [Int] {
        Array(Set(axes.map { normalizedAxis($0) })).sorted()
    }

    /// Shape with the reduced axes set to 1.
    private func keptShape(_ axes: [Int]) -> [Int] {
        var s = shape
        for a in axes { s[a] = 1 }
        return s
    }

    private func reduced(_ op: ReduceOp, _ axes: [Int]) -> Tensor {
        let kept = keptShape(axes)
        let out = empty(kept)
        // The output seen through the input's shape: stride 0 on reduced axes.
        var outLayout = Layout(contiguous: kept)
        for a in axes { outLayout.strides[a] = 0 }
        outLayout.shape = shape
        backend.reduce(op, view, into: StridedView(out.storage, outLayout))
        return out
    }

    private func dropAxes(_ t: Tensor, _ axes: [Int], keepDims: Bool) -> Tensor {
        keepDims ? t : t.reshaped(shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element))
    }

    /// Sum over `axes` (all axes when nil); reduced axes are kept as size 1 when `keepDims`.
    public func sum(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let axes = axes.map(normalizedAxes) ?? Array(0..<rank)
        let inputShape = shape
        let kept = keptShape(axes)
        let out = reduced(.sum, axes).recordedReplacing(from: [self]) { g in
            [g.reshaped(kept).expanded(to: inputShape)]
        }
        return dropAxes(out, axes, keepDims: keepDims)
    }

    /// Sum along one axis.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor { sum(axes: [axis], keepDims: keepDims) }

    /// Mean over `axes` (all when nil).
    public func mean(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let axes = axes.map(normalizedAxes) ?? Array(0..<rank)
        let n = axes.reduce(1) { $0 * shape[$1] }
        return sum(axes: axes, keepDims: keepDims) * (1 / Float(Swift.max(n, 1)))
    }

    /// Mean along one axis.
    public func mean(axis: Int, keepDims: Bool = false) -> Tensor { mean(axes: [axis], keepDims: keepDims) }

    private func extremum(_ op: ReduceOp, _ axes: [Int]?, keepDims: Bool) -> Tensor {
        let axes = axes.map(normalizedAxes) ?? Array(0..<rank)
        let x = detached()
        let kept = keptShape(axes)
        let inputShape = shape
        let m = reduced(op, axes)
        let out = m.recordedReplacing(from: [self]) { g in
            // Evenly among the elements that reach the extremum.
            let hits = x .== m.expanded(to: inputShape)
            let ties = hits.sum(axes: axes, keepDims: true)
            return [hits * (g.reshaped(kept) / ties).expanded(to: inputShape)]
        }
        return dropAxes(out, axes, keepDims: keepDims)
    }

    /// Largest element over `axes` (all when nil). Ties share the gradient evenly.
    public func max(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor { extremum(.max, axes, keepDims: keepDims) }
    /// Largest element along one axis.
    public func max(axis: Int, keepDims: Bool = false) -> Tensor { extremum(.max, [axis], keepDims: keepDims) }
    /// Smallest element over `axes` (all when nil). Ties share the gradient evenly.
    public func min(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor { extremum(.min, axes, keepDims: keepDims) }
    /// Smallest element along one axis.
    public func min(axis: Int, keepDims: Bool = false) -> Tensor { extremum(.min, [axis], keepDims: keepDims) }

    /// Index of the largest element along `axis` (the first on ties), as Float values; no gradient.
    public func argmax(axis: Int, keepDims: Bool = false) -> Tensor {
        let a = normalizedAxis(axis)
        var outShape = shape
        outShape[a] = 1
        let out = empty(outShape)
        backend.argmax(view, axis: a, into: out.storage)
        return keepDims ? out : out.squeezed(axis: a)
    }

    /// Variance over `axes` (all when nil) with `correction` (1 = unbiased, PyTorch's default).
    public func variance(axes: [Int]? = nil, keepDims: Bool = false, correction: Int = 1) -> Tensor {
        let axes = axes.map(normalizedAxes) ?? Array(0..<rank)
        let n = axes.reduce(1) { $0 * shape[$1] }
        let centered = self - mean(axes: axes, keepDims: true)
        return centered.square().sum(axes: axes, keepDims: keepDims) * (1 / Float(Swift.max(n - correction, 1)))
    }
}
