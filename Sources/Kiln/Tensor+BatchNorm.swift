import KilnCompute

/// Batch normalisation of `x` `[N, C]`, `[N, C, L]` or `[N, C, H, W]` over every axis but the
/// channel axis 1: `y = (x − mean) / √(var + ε) · weight + bias`.
///
/// In training the batch's mean and biased variance normalise, and `runningMean` / `runningVar`
/// (when given, `[C]`) are updated in place: `r ← (1 − momentum)·r + momentum·batch`, with the
/// unbiased variance, as PyTorch. In evaluation the running statistics normalise (they must be
/// given). `weight` and `bias` (`[C]`, both optional) receive gradients. Forward is one fused
/// kernel; so is backward.
public func batchNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, runningMean: Tensor?, runningVar: Tensor?,
                      training: Bool, momentum: Float = 0.1, epsilon: Float = 1e-5) -> Tensor {
    precondition(x.rank >= 2, "batchNorm: needs input [N, C, ...], got \(x.shape)")
    let batch = x.shape[0], channels = x.shape[1]
    let spatial = x.shape.dropFirst(2).reduce(1, *)
    for (name, t) in [("weight", weight), ("bias", bias), ("runningMean", runningMean), ("runningVar", runningVar)] {
        if let t { precondition(t.shape == [channels], "batchNorm: \(name) \(t.shape) should be [\(channels)] for input \(x.shape)") }
    }
    precondition(training || (runningMean != nil && runningVar != nil),
                 "batchNorm: evaluation (training: false) needs runningMean and runningVar")
    precondition(!training || batch * spatial > 1,
                 "batchNorm: training needs more than one value per channel, got input \(x.shape)")
    for (name, t) in [("runningMean", runningMean), ("runningVar", runningVar)] {
        if let t { precondition(t.isContiguous, "batchNorm: \(name) must be contiguous (it is updated in place)") }
    }
    let xc = x.contiguous(), wc = weight?.contiguous(), bc = bias?.contiguous()
    let out = x.empty(x.shape)
    let mean = x.empty([channels]), invStd = x.empty([channels])
    out.backend.batchNorm(xc.view, batch: batch, channels: channels, spatial: spatial,
                          weight: wc?.view, bias: bc?.view, runningMean: runningMean?.view, runningVar: runningVar?.view,
                          training: training, momentum: momentum, epsilon: epsilon,
                          into: out.storage, saveMean: mean.storage, saveInvStd: invStd.storage)

    let input = xc.detached(), scale = wc?.detached()
    let needX = xc.requiresGrad, needW = wc?.requiresGrad ?? false, needB = bc?.requiresGrad ?? false
    var inputs = [xc]
    if let wc { inputs.append(wc) }
    if let bc { inputs.append(bc) }
    return out.recorded(from: inputs) { dy in
        let dyc = dy.contiguous()
        let dx = needX ? input.empty(input.shape) : nil
        let dw = needW ? input.empty([channels]) : nil
        let db = needB ? input.empty([channels]) : nil
        dyc.backend.batchNormBackward(dyc.view, x: input.view, batch: batch, channels: channels, spatial: spatial,
                                      weight: scale?.view, saveMean: mean.storage, saveInvStd: invStd.storage,
                                      training: training, dx: dx?.storage, dWeight: dw?.storage, dBias: db?.storage)
        var grads: [Tensor?] = [dx]
        if wc != nil { grads.append(dw) }
        if bc != nil { grads.append(db) }
        return grads
    }
}
