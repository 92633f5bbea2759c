import Kiln

/// Mean squared error `mean((prediction − target)²)`.
public func mseLoss(_ prediction: Tensor, _ target: Tensor) -> Tensor {
    precondition(prediction.shape == target.shape, "mseLoss: shapes \(prediction.shape) and \(target.shape) differ")
    return (prediction - target).square().mean()
}

/// Mean binary cross-entropy of `logits` against `targets` in [0, 1], computed stably as
/// `max(x, 0) − x·t + log(1 + e^(−|x|))`.
public func binaryCrossEntropyWithLogits(_ logits: Tensor, _ targets: Tensor) -> Tensor {
    precondition(logits.shape == targets.shape, "binaryCrossEntropyWithLogits: shapes \(logits.shape) and \(targets.shape) differ")
    // NOTE: `maximum` (not `relu`) so that at x = 0, where the kinks of max and |x| meet, the
    // gradient is σ(0) − t = 0.5 − t: `maximum` splits a tie evenly, `abs` gives 0 there.
    return (maximum(logits, Tensor(scalar: 0)) - logits * targets + ((-logits.abs()).exp() + 1).log()).mean()
}

/// Mean cross-entropy of `logits` `[n, classes]` against integer `labels` (fused log-softmax + NLL).
public func crossEntropyLoss(_ logits: Tensor, _ labels: [Int32], labelSmoothing: Float = 0) -> Tensor {
    crossEntropy(logits, labels: labels, labelSmoothing: labelSmoothing)
}
