import KilnCompute

extension Tensor {
    /// How BLAS can read a matrix view without a copy: (transposed, leading dimension), or nil.
    fileprivate var blasOperand: (trans: Bool, ld: Int)? {
        let r = rank
        let rows = shape[r - 2], cols = shape[r - 1]
        let rs = strides[r - 2], cs = strides[r - 1]
        // Row-major: unit column stride and rows at least a row apart (a broadcast row, stride 0,
        // is not a matrix BLAS can read); transposed likewise with the roles swapped.
        if (cs == 1 || cols == 1) && (rows == 1 || rs >= Swift.max(cols, 1)) {
            return (false, rows == 1 ? Swift.max(cols, 1) : rs)
        }
        if (rs == 1 || rows == 1) && (cols == 1 || cs >= Swift.max(rows, 1)) {
            return (true, cols == 1 ? Swift.max(rows, 1) : cs)
        }
        return nil
    }

    /// The element distance between consecutive matrices when the batch axes (broadcast to
    /// `batchShape`) collapse to one stride, else nil.
    fileprivate func batchStride(_ batchShape: [Int]) -> Int? {
        let own = Layout(shape: Array(shape.prefix(rank - 2)), strides: Array(strides.prefix(rank - 2)), offset: 0)
            .expanded(to: batchShape)
        var result: Int?
        var previous = (stride: 0, size: 1)
        for i in stride(from: batchShape.count - 1, through: 0, by: -1) where batchShape[i] != 1 {
            let st = own.strides[i]
            if result == nil { result = st } else if st != previous.stride * previous.size { return nil }
            previous = (st, batchShape[i])
        }
        return result ?? 0
    }

    /// Matrix product over the last two axes, broadcasting batch axes (NumPy `matmul`).
    /// Transposed views go to BLAS as transpose flags, not copies.
    public func matmul(_ other: Tensor) -> Tensor {
        precondition(rank >= 2 && other.rank >= 2, "matmul: needs rank ≥ 2, got \(shape) and \(other.shape)")
        let m = shape[rank - 2], k = shape[rank - 1], n = other.shape[other.rank - 1]
        precondition(other.shape[other.rank - 2] == k, "matmul: shapes \(shape) and \(other.shape) don't chain")
        guard let batchShape = broadcastShapes(Array(shape.dropLast(2)), Array(other.shape.dropLast(2))) else {
            preconditionFailure("matmul: batch shapes of \(shape) and \(other.shape) don't broadcast")
        }
        var a = self.detached(), b = other.detached()
        if a.blasOperand == nil || a.batchStride(batchShape) == nil { a = a.copied() }
        if b.blasOperand == nil || b.batchStride(batchShape) == nil { b = b.copied() }
        // A size-1 batch axis broadcast against a larger one before it ([2, 1, m, k] with batch
        // [2, 3]) has no single batch stride even when dense: materialise the broadcast.
        if a.batchStride(batchShape) == nil { a = a.expanded(to: batchShape + [m, k]).copied() }
        if b.batchStride(batchShape) == nil { b = b.expanded(to: batchShape + [k, n]).copied() }
        let opA = a.blasOperand!, opB = b.blasOperand!
        let batch = batchShape.reduce(1, *)
        let out = empty(batchShape + [m, n])
        backend.gemm(GemmProblem(
            transA: opA.trans, transB: opB.trans, m: m, n: n, k: k,
            a: a.storage, aOffset: a.layout.offset, lda: opA.ld, aBatchStride: a.batchStride(batchShape)!,
            b: b.storage, bOffset: b.layout.offset, ldb: opB.ld, bBatchStride: b.batchStride(batchShape)!,
            c: out.storage, ldc: n, cBatchStride: m * n, batch: batch))
        let x = self.detached(), y = other.detached()
        let needA = requiresGrad, needB = other.requiresGrad
        return out.recorded(from: [self, other]) { g in
            [needA ? g.matmul(y.transposed()).sumTo(x.shape) : nil,
             needB ? x.transposed().matmul(g).sumTo(y.shape) : nil]
        }
    }
}

/// Matrix product of `a` and `b` (see `Tensor.matmul(_:)`).
public func matmul(_ a: Tensor, _ b: Tensor) -> Tensor { a.matmul(b) }

/// `x · weightᵀ + bias` for `x` of shape `[..., in]`, `weight` `[out, in]`, `bias` `[out]`: the
/// affine map of a linear layer, fused into one GEMM with the bias as its initial accumulator.
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    let inFeatures = x.shape.last!, outFeatures = weight.shape[0]
    precondition(weight.rank == 2 && weight.shape[1] == inFeatures,
                 "linear: input \(x.shape) and weight \(weight.shape) don't match")
    let x2 = x.reshaped([-1, inFeatures])
    let rows = x2.shape[0]
    let out = x.empty([rows, outFeatures])
    if let bias {
        precondition(bias.shape == [outFeatures], "linear: bias \(bias.shape) should be [\(outFeatures)]")
        out.backend.copy(StridedView(bias.storage, bias.layout.expanded(to: [rows, outFeatures])), into: out.view)
    }
    let a = x2.isContiguous ? x2.detached() : x2.copied().detached()
    let w = weight.isContiguous ? weight.detached() : weight.copied().detached()
    out.backend.gemm(GemmProblem(
        transA: false, transB: true, m: rows, n: outFeatures, k: inFeatures, beta: bias == nil ? 0 : 1,
        a: a.storage, aOffset: a.layout.offset, lda: inFeatures,
        b: w.storage, bOffset: w.layout.offset, ldb: inFeatures,
        c: out.storage, ldc: outFeatures))
    let needX = x.requiresGrad, needW = weight.requiresGrad
    let result = out.recorded(from: [x2, weight] + (bias.map { [$0] } ?? [])) { g in
        var grads: [Tensor?] = [needX ? g.matmul(w) : nil, needW ? g.transposed().matmul(a) : nil]
        if bias != nil { grads.append(g.sum(axis: 0)) }
        return grads
    }
    return result.reshaped(Array(x.shape.dropLast()) + [outFeatures])
}
