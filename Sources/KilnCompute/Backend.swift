/// Element-wise functions of one tensor.
package enum UnaryOp: Sendable, CaseIterable {
    case neg, exp, log, sqrt, abs, tanh, sigmoid, relu, gelu, geluTanh, square, reciprocal
}

/// Element-wise functions of two tensors (after broadcasting). Comparisons give 1 or 0.
package enum BinaryOp: Sendable, CaseIterable {
    case add, sub, mul, div, pow, maximum, minimum
    case equal, notEqual, less, lessEqual, greater, greaterEqual
}

/// Reductions over axes.
package enum ReduceOp: Sendable { case sum, max, min }

/// A storage seen through a layout: what kernels read and write.
package struct StridedView: @unchecked Sendable {
    package let storage: Storage
    package let layout: Layout
    package init(_ storage: Storage, _ layout: Layout) {
        self.storage = storage
        self.layout = layout
    }
    package var base: UnsafeMutablePointer<Float> { storage.pointer }
    /// The first element of a contiguous view.
    package var start: UnsafeMutablePointer<Float> {
        precondition(layout.isContiguous, "kernel needs a contiguous input, got \(layout)")
        return storage.pointer + layout.offset
    }
}

/// What a device must provide. `Kiln` calls exactly one of these per tensor op; each method is a
/// whole op (not per element), so dispatch through the protocol costs nothing measurable.
///
/// Conventions: outputs are fresh contiguous storages of the op's output shape unless a layout is
/// given; `StridedView` inputs may have any strides (broadcast axes have stride 0).
package protocol Backend: Sendable {
    var device: Device { get }
    func allocate(_ count: Int) -> Storage

    /// Copies `src` element by element into `dst` (same shape, any strides).
    func copy(_ src: StridedView, into dst: StridedView)
    func fill(_ dst: StridedView, value: Float)

    func unary(_ op: UnaryOp, _ x: StridedView, into out: Storage)
    /// `dx = dy * f'(x)` for a unary op, given its input `x` and output `y` (all contiguous, same shape).
    func unaryBackward(_ op: UnaryOp, x: StridedView, y: StridedView, dy: StridedView, into dx: Storage)
    /// `a op b`, both already broadcast to the output shape.
    func binary(_ op: BinaryOp, _ a: StridedView, _ b: StridedView, into out: Storage)
    /// `a op s`, or `s op a` when `scalarFirst`.
    func binary(_ op: BinaryOp, _ a: StridedView, scalar s: Float, scalarFirst: Bool, into out: Storage)
    /// Reduces `x` into `out`, whose layout is `x`'s shape with stride 0 on the reduced axes.
    func reduce(_ op: ReduceOp, _ x: StridedView, into out: StridedView)
    /// Index of the largest element along `axis` (first on ties), as Float.
    func argmax(_ x: StridedView, axis: Int, into out: Storage)

    /// `C = alpha * op(A) * op(B) + beta * C` for `batch` matrices at the given element strides.
    func gemm(_ p: GemmProblem)

    /// Softmax (or log-softmax) of each row of a contiguous `[rows, cols]` input.
    func softmax(_ x: StridedView, rows: Int, cols: Int, log: Bool, into y: Storage)
    /// Gradient of `softmax`/`logSoftmax` from its output `y`.
    func softmaxBackward(y: StridedView, dy: StridedView, rows: Int, cols: Int, log: Bool, into dx: Storage)
    /// Mean cross-entropy of dense `[rows, cols]` logits against `labels`, with label smoothing;
    /// writes the softmax probabilities (needed by backward) into `probs`.
    func crossEntropy(_ logits: StridedView, labels: [Int32], rows: Int, cols: Int, smoothing: Float,
                      probs: Storage) -> Float
    /// `dlogits = scale * (probs - target)`.
    func crossEntropyBackward(probs: StridedView, labels: [Int32], rows: Int, cols: Int, smoothing: Float,
                              scale: Float, into dx: Storage)

    /// `out[i, :] = x[indices[i], :]` for a dense `[rows, width]` source.
    func indexSelect(_ x: StridedView, width: Int, indices: [Int32], into out: Storage)
    /// `dx[indices[i], :] += dy[i, :]` (dx dense, already initialised).
    func indexAdd(_ dy: StridedView, width: Int, indices: [Int32], into dx: Storage)

    /// Fills `out` with 0 (probability `p`) or `1 / (1 - p)`.
    func dropoutMask(count: Int, p: Float, generator: RandomGenerator, into out: Storage)
    func fillUniform(_ out: Storage, count: Int, low: Float, high: Float, generator: RandomGenerator)
    func fillNormal(_ out: Storage, count: Int, mean: Float, std: Float, generator: RandomGenerator)
}

/// One (batched) matrix product in BLAS terms; offsets and strides are in elements.
package struct GemmProblem {
    package var transA: Bool, transB: Bool
    package var m: Int, n: Int, k: Int
    package var alpha: Float, beta: Float
    package var a: Storage, aOffset: Int, lda: Int, aBatchStride: Int
    package var b: Storage, bOffset: Int, ldb: Int, bBatchStride: Int
    package var c: Storage, cOffset: Int, ldc: Int, cBatchStride: Int
    package var batch: Int

    package init(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1, beta: Float = 0,
                 a: Storage, aOffset: Int, lda: Int, aBatchStride: Int = 0,
                 b: Storage, bOffset: Int, ldb: Int, bBatchStride: Int = 0,
                 c: Storage, cOffset: Int = 0, ldc: Int, cBatchStride: Int = 0, batch: Int = 1) {
        self.transA = transA; self.transB = transB
        self.m = m; self.n = n; self.k = k; self.alpha = alpha; self.beta = beta
        self.a = a; self.aOffset = aOffset; self.lda = lda; self.aBatchStride = aBatchStride
        self.b = b; self.bOffset = bOffset; self.ldb = ldb; self.bBatchStride = bBatchStride
        self.c = c; self.cOffset = cOffset; self.ldc = ldc; self.cBatchStride = cBatchStride
        self.batch = batch
    }
}

/// The backend that runs kernels for `device`.
package func backend(for device: Device) -> any Backend {
    switch device {
    case .cpu: return CPUBackend.shared
    case .cuda: return BackendRegistry.cuda ?? {
        preconditionFailure("no CUDA backend is loaded: import KilnCUDA and check CUDA.isAvailable")
    }()
    }
}

/// Optional backends plug in here at run time.
package enum BackendRegistry {
    nonisolated(unsafe) package static var cuda: (any Backend)?
}
