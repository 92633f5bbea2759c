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
    /// The device address of element 0 of the storage (the view's strides count from here).
    package var deviceBase: UInt64 { storage.deviceAddress }
    /// The device address of the first element of a contiguous view.
    package var deviceStart: UInt64 {
        precondition(layout.isContiguous, "kernel needs a contiguous input, got \(layout)")
        return storage.deviceAddress + UInt64(layout.offset * MemoryLayout<Float>.stride)
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
    /// The elements of `src` (on this backend's device, any strides) in row-major order, on the host.
    func read(_ src: StridedView) -> [Float]
    /// Writes `values` (row-major, `dst`'s element count) from the host into `dst` (any strides).
    func write(_ values: [Float], into dst: StridedView)
    /// Waits until every op queued on the device has finished (for timing and host access); the
    /// CPU backend's ops finish before they return, so its default does nothing.
    func synchronize()
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
    /// `crossEntropy` with the mean loss written to `loss` (one element on this backend's device)
    /// instead of returned, so that a device backend queues it without waiting for the result (the
    /// default wraps the returning form).
    func crossEntropy(_ logits: StridedView, labels: [Int32], rows: Int, cols: Int, smoothing: Float,
                      probs: Storage, loss: Storage)
    /// `dlogits = scale * (probs - target)`.
    func crossEntropyBackward(probs: StridedView, labels: [Int32], rows: Int, cols: Int, smoothing: Float,
                              scale: Float, into dx: Storage)

    /// `out[i, :] = x[indices[i], :]` for a dense `[rows, width]` source.
    func indexSelect(_ x: StridedView, width: Int, indices: [Int32], into out: Storage)
    /// `dx[indices[i], :] += dy[i, :]` (dx dense, already initialised).
    func indexAdd(_ dy: StridedView, width: Int, indices: [Int32], into dx: Storage)

    // MARK: sequence layers: layer normalization, attention, recurrent cells

    /// Layer normalization of each row of a contiguous `[rows, cols]` `x`:
    /// `y = (x − mean)·rstd·weight + bias` (`weight`, `bias` `[cols]`, each optional), where
    /// `rstd = 1/√(var + ε)`; each row's mean and rstd are written to `mean`, `rstd` (`[rows]`).
    func layerNorm(_ x: StridedView, weight: StridedView?, bias: StridedView?, rows: Int, cols: Int,
                   epsilon: Float, into y: Storage, mean: Storage, rstd: Storage)
    /// Gradients of `layerNorm` from the saved statistics: `dx` and, when given, `dweight`, `dbias`
    /// (`[cols]`) are overwritten.
    func layerNormBackward(x: StridedView, weight: StridedView?, mean: Storage, rstd: Storage,
                           dy: StridedView, rows: Int, cols: Int, dx: Storage, dweight: Storage?, dbias: Storage?)

    /// Attention for every head of `[..., tq, d]` queries, `[..., tk, d]` keys and `[..., tk, dv]`
    /// values (leading axes equal; any strides but dense rows): `probs = softmax(scale·Q·Kᵀ)`, with
    /// query i seeing keys 0...i when `causal`, written dense `[heads, tq, tk]` (0 where masked);
    /// `out = probs·V` into the `[..., tq, dv]` view `out`.
    func attention(q: StridedView, k: StridedView, v: StridedView, scale: Float, causal: Bool,
                   probs: Storage, out: StridedView)
    /// Gradients of `attention` from `dOut` and the saved `probs`; `dq`, `dk`, `dv` (views shaped as
    /// q, k, v) are overwritten.
    func attentionBackward(q: StridedView, k: StridedView, v: StridedView, probs: Storage,
                           dOut: StridedView, scale: Float, causal: Bool,
                           dq: StridedView, dk: StridedView, dv: StridedView)

    /// `W_hh` (`[4·hidden, hidden]`, interleaved rows) for a sequence of `lstmStep`s and
    /// `lstmStepBackward`s, with whatever form of it the step kernels read fastest, made once.
    func recurrentWeight(_ matrix: StridedView, hidden: Int) -> RecurrentWeight
    /// One LSTM step for `[batch, ·]` row views (rows may be strided) whose gates are interleaved per
    /// block of 16 units (`[i f g o]` of units 0–15, then 16–31, …; `4·hidden` in all): adds
    /// `hPrev·W_hhᵀ` (`weightHH` `[4·hidden, hidden]`, rows in the same order) to the
    /// pre-activations in `gates` when `hPrev` is given, replaces them by the activations, and from
    /// `cPrev` (nil: zeros) writes `c`, `tanhC` and `h = o·tanh(c)`.
    ///
    /// With `input`, the pre-activations are its rows (the step's input projection, e.g. of an
    /// embedding table) plus `hPrev·W_hhᵀ`, and `gates` only receives the activations.
    func lstmStep(batch: Int, hidden: Int, gates: StridedView, input: TableRows?, hPrev: StridedView?,
                  weightHH: RecurrentWeight, cPrev: StridedView?, c: StridedView, tanhC: StridedView, h: StridedView)
    /// Backward of one `lstmStep`: `dh` is set to `dGatesNext·W_hh` (the following step's gate
    /// gradients; when nil, `dh` is used as given), then with `dh + dOut` and `dc` (d/dc_t on entry,
    /// d/dc_{t−1} on exit) the gate gradients replace the activations in `gates`, and their column
    /// sums are added to `dBias` (interleaved like the gates); with `inputGradient`, each row's gate
    /// gradients are also added to its table row there.
    func lstmStepBackward(batch: Int, hidden: Int, gates: StridedView, dGatesNext: StridedView?,
                          weightHH: RecurrentWeight, cPrev: StridedView?, tanhC: StridedView, dOut: StridedView?,
                          dh: StridedView, dc: StridedView, dBias: Storage?, inputGradient: TableRows?)
    /// One GRU step (PyTorch's equations): `gates` holds `x·W_ihᵀ + b_ih` (`[r z n]`, `3·hidden`) and
    /// receives the activations r, z, n; `hiddenGates` holds `h·W_hhᵀ + b_hh` (kept); writes `h`.
    func gruCell(batch: Int, hidden: Int, gates: StridedView, hiddenGates: StridedView,
                 hPrev: StridedView?, h: StridedView)
    /// Backward of one GRU step: `dh = dOut + dhCarry`; overwrites `gates` with d/d(x·W_ihᵀ + b_ih),
    /// `hiddenGates` with d/d(h·W_hhᵀ + b_hh), `dhCarry` with the direct part of d/dh_{t−1} (`dh·z`),
    /// and adds the column sums to `dBias`, `dHiddenBias`.
    func gruCellBackward(batch: Int, hidden: Int, gates: StridedView, hiddenGates: StridedView,
                         hPrev: StridedView?, dOut: StridedView?, dhCarry: StridedView,
                         dBias: Storage?, dHiddenBias: Storage?)

    /// Fills `out` with 0 (probability `p`) or `1 / (1 - p)`.
    func dropoutMask(count: Int, p: Float, generator: RandomGenerator, into out: Storage)
    func fillUniform(_ out: Storage, count: Int, low: Float, high: Float, generator: RandomGenerator)
    func fillNormal(_ out: Storage, count: Int, mean: Float, std: Float, generator: RandomGenerator)

    // MARK: convolution, pooling, batch normalisation (NCHW, contiguous inputs)

    /// 2-D convolution (`Conv2dGeometry`): `x` `[N, Cin, H, W]`, `weight` `[Cout, Cin/groups, kh, kw]`,
    /// optional `bias` `[Cout]`, into `out` `[N, Cout, outH, outW]`.
    func conv2d(_ x: StridedView, weight: StridedView, bias: StridedView?, _ g: Conv2dGeometry, into out: Storage)
    /// The gradients of `conv2d` from `dy` `[N, Cout, outH, outW]`: each of `dx`, `dWeight`, `dBias`
    /// that is given is overwritten (nil: not needed).
    func conv2dBackward(_ dy: StridedView, x: StridedView, weight: StridedView, _ g: Conv2dGeometry,
                        dx: Storage?, dWeight: Storage?, dBias: Storage?)
    /// Max pooling of each plane; `indices` receives the winner's index within its input plane (as Float).
    func maxPool2d(_ x: StridedView, _ g: Pool2dGeometry, into out: Storage, indices: Storage)
    /// Routes `dy` to the winners recorded in `indices`; overwrites `dx`.
    func maxPool2dBackward(_ dy: StridedView, indices: Storage, _ g: Pool2dGeometry, into dx: Storage)
    /// Average pooling (regular with `count_include_pad`, or adaptive bins) of each plane.
    func avgPool2d(_ x: StridedView, _ g: Pool2dGeometry, into out: Storage)
    /// Spreads `dy` evenly over each window; overwrites `dx`.
    func avgPool2dBackward(_ dy: StridedView, _ g: Pool2dGeometry, into dx: Storage)
    /// Batch normalisation of `[batch, channels, spatial]`. Training: batch statistics, written to
    /// `saveMean` / `saveInvStd` (1/√(var+ε)), and the running statistics (if given) updated in place
    /// with `momentum` (unbiased variance); evaluation: the running statistics, also saved.
    func batchNorm(_ x: StridedView, batch: Int, channels: Int, spatial: Int,
                   weight: StridedView?, bias: StridedView?, runningMean: StridedView?, runningVar: StridedView?,
                   training: Bool, momentum: Float, epsilon: Float,
                   into out: Storage, saveMean: Storage, saveInvStd: Storage)
    /// `batchNorm`, then `+ residual` (contiguous, `x`'s shape) when given, then ReLU when `relu`:
    /// `out = relu(bn(x) + residual)` written in one pass (a default composes the three ops).
    func batchNorm(_ x: StridedView, batch: Int, channels: Int, spatial: Int,
                   weight: StridedView?, bias: StridedView?, runningMean: StridedView?, runningVar: StridedView?,
                   training: Bool, momentum: Float, epsilon: Float, residual: StridedView?, relu: Bool,
                   into out: Storage, saveMean: Storage, saveInvStd: Storage)
    /// The gradients of `batchNorm` from the statistics it saved; given outputs are overwritten.
    func batchNormBackward(_ dy: StridedView, x: StridedView, batch: Int, channels: Int, spatial: Int,
                           weight: StridedView?, saveMean: Storage, saveInvStd: Storage, training: Bool,
                           dx: Storage?, dWeight: Storage?, dBias: Storage?)
    /// The gradients of the fused `batchNorm(…, residual:, relu:)` from its output `y`: the gradient
    /// reaching the normalisation is `dy·[y > 0]` when `relu` (else `dy`), and is also written to
    /// `dResidual` when given (the residual's gradient); other outputs as in `batchNormBackward`.
    func batchNormBackward(_ dy: StridedView, x: StridedView, y: StridedView, relu: Bool,
                           batch: Int, channels: Int, spatial: Int,
                           weight: StridedView?, saveMean: Storage, saveInvStd: Storage, training: Bool,
                           dx: Storage?, dWeight: Storage?, dBias: Storage?, dResidual: Storage?)
}

/// The recurrent weight of LSTM steps: the `[4·hidden, hidden]` matrix, and (CPU) the same packed
/// into panels for `panelProduct` — `Wᵀ`'s (forward: `h·Wᵀ`) then `W`'s (backward: `dGates·W`).
package struct RecurrentWeight {
    package let matrix: StridedView
    package let panels: Storage?

    package init(_ matrix: StridedView, panels: Storage? = nil) {
        self.matrix = matrix
        self.panels = panels
    }
}

/// Rows of a dense `[rows, width]` table picked per batch row of one time step: batch row `b` uses
/// table row `indices[offset + b·stride]` (for step t of batch-major `[B, T]` indices: offset t,
/// stride T).
package struct TableRows {
    package var table: StridedView
    package var indices: [Int32]
    package var offset: Int, stride: Int

    package init(table: StridedView, indices: [Int32], offset: Int, stride: Int) {
        self.table = table
        self.indices = indices
        self.offset = offset
        self.stride = stride
    }
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

extension Backend {
    package func synchronize() {}
}

/// Optional backends plug in here at run time.
package enum BackendRegistry {
    nonisolated(unsafe) package static var cuda: (any Backend)?
}
