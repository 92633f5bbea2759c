import Kiln

/// Batch normalisation over the channel axis 1 (shared by `BatchNorm1d` and `BatchNorm2d`).
///
/// In training mode each call normalises with the batch's statistics and updates the running ones
/// (`r ← (1 − momentum)·r + momentum·batch`, unbiased variance); in evaluation mode (`eval()`) the
/// running statistics normalise. `weight` starts at 1, `bias` at 0, `runningMean` at 0 and
/// `runningVar` at 1, as in PyTorch.
///
/// State-dict names follow PyTorch: `weight`, `bias`, and the buffers `running_mean`,
/// `running_var` and `num_batches_tracked`. Kiln keeps `num_batches_tracked` (a 0-d Float tensor
/// counting training-mode calls, exact up to 2²⁴) so that state dicts match PyTorch's key for key;
/// it does not affect the update (`momentum` is always a fixed factor). Without
/// `trackRunningStats` the buffers are not listed and batch statistics are used in both modes.
public class BatchNorm: Module {
    /// Number of channels `C`.
    public let features: Int
    /// Added to the variance before the square root.
    public let epsilon: Float
    /// Weight of the newest batch in the running statistics.
    public let momentum: Float
    /// Whether running statistics are kept (and used in evaluation mode).
    public let trackRunningStats: Bool
    /// `[C]` scale, or nil without `affine`.
    public let weight: Parameter?
    /// `[C]` shift, or nil without `affine`.
    public let bias: Parameter?
    /// `[C]` running mean, updated in place in training mode.
    public let runningMean: Tensor
    /// `[C]` running (unbiased) variance, updated in place in training mode.
    public let runningVar: Tensor
    /// Training-mode calls so far (a 0-d tensor), as PyTorch's `num_batches_tracked`.
    public let numBatchesTracked: Tensor

    init(features: Int, epsilon: Float, momentum: Float, affine: Bool, trackRunningStats: Bool) {
        precondition(features > 0, "BatchNorm: need at least one feature, got \(features)")
        self.features = features
        self.epsilon = epsilon
        self.momentum = momentum
        self.trackRunningStats = trackRunningStats
        weight = affine ? Parameter(Tensor.ones([features])) : nil
        bias = affine ? Parameter(Tensor.zeros([features])) : nil
        runningMean = Tensor.zeros([features])
        runningVar = Tensor.ones([features])
        numBatchesTracked = Tensor.zeros([])
        super.init()
    }

    /// `running_mean`, `running_var` and `num_batches_tracked` when running statistics are tracked.
    public override var ownBuffers: [(String, Tensor)] {
        trackRunningStats
            ? [("running_mean", runningMean), ("running_var", runningVar), ("num_batches_tracked", numBatchesTracked)]
            : []
    }

    /// `relu(self(input) + residual)` in one pass over memory (see `batchNorm(_:weight:bias:…)`):
    /// the tail of a residual block, or with `residual` nil a normalisation followed by ReLU.
    public func callAsFunction(_ input: Tensor, adding residual: Tensor? = nil, relu: Bool) -> Tensor {
        normalize(input, adding: residual, relu: relu)
    }

    func normalize(_ input: Tensor, adding residual: Tensor? = nil, relu: Bool = false) -> Tensor {
        precondition(input.rank >= 2 && input.shape[1] == features,
                     "\(type(of: self)): input \(input.shape) should have \(features) channels on axis 1")
        let useBatchStatistics = isTraining || !trackRunningStats
        if isTraining && trackRunningStats {
            // On a device the counter is bumped by a device op: a host update would wait for the GPU.
            if numBatchesTracked.device == .cpu {
                numBatchesTracked.withUnsafeMutableBufferPointer { $0[0] += 1 }
            } else {
                noGrad { numBatchesTracked.assign(numBatchesTracked + 1) }
            }
        }
        return batchNorm(input, weight: weight?.value, bias: bias?.value,
                         runningMean: trackRunningStats ? runningMean : nil,
                         runningVar: trackRunningStats ? runningVar : nil,
                         training: useBatchStatistics, momentum: momentum, epsilon: epsilon,
                         adding: residual, relu: relu)
    }
}

/// Batch normalisation of `[N, C]` or `[N, C, L]` inputs (PyTorch's `nn.BatchNorm1d`).
public final class BatchNorm1d: BatchNorm, Layer {
    /// Normalisation of `features` channels.
    public init(_ features: Int, epsilon: Float = 1e-5, momentum: Float = 0.1, affine: Bool = true,
                trackRunningStats: Bool = true) {
        super.init(features: features, epsilon: epsilon, momentum: momentum, affine: affine,
                   trackRunningStats: trackRunningStats)
    }

    /// Applies the layer to `input` `[N, C]` or `[N, C, L]`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        precondition(input.rank == 2 || input.rank == 3, "BatchNorm1d: needs input [N, C] or [N, C, L], got \(input.shape)")
        return normalize(input)
    }
}

/// Batch normalisation of `[N, C, H, W]` inputs (PyTorch's `nn.BatchNorm2d`).
public final class BatchNorm2d: BatchNorm, Layer {
    /// Normalisation of `features` channels.
    public init(_ features: Int, epsilon: Float = 1e-5, momentum: Float = 0.1, affine: Bool = true,
                trackRunningStats: Bool = true) {
        super.init(features: features, epsilon: epsilon, momentum: momentum, affine: affine,
                   trackRunningStats: trackRunningStats)
    }

    /// Applies the layer to `input` `[N, C, H, W]`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        precondition(input.rank == 4, "BatchNorm2d: needs input [N, C, H, W], got \(input.shape)")
        return normalize(input)
    }
}
