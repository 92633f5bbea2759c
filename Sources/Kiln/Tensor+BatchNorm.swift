import KilnCompute

/// Batch normalisation of `x` `[N, C]`, `[N, C, L]` or `[N, C, H, W]` over every axis but the
/// channel axis 1: `y = (x − mean) / √(var + ε) · weight + bias`.
///
/// In training the batch's mean and biased variance normalise, and `runningMean` / `runningVar`
/// (when given, `[C]`) are updated in place: `r ← (1 − momentum)·r + momentum·batch`, with the
/// unbiased variance, as PyTorch. In evaluation the running statistics normalise (they must be
/// given). `weight` and `bias` (`[C]`, both optional) receive gradients. Forward is one fused
/// kernel; so is backward.
///
/// With `residual` (`x`'s shape) and/or `relu`, the result is `relu(bn(x) + residual)`, written
/// in the same pass as the normalisation (a residual block's tail without two more passes over
/// memory); the residual receives its gradient like any input.
public func batchNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, runningMean: Tensor?, runningVar: Tensor?,
                      training: Bool, momentum: Float = 0.1, epsilon: Float = 1e-5,
                      adding residual: Tensor? = nil, relu: Bool = false) -> Tensor {
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
    if let residual {
        precondition(residual.shape == x.shape, "batchNorm: residual \(residual.shape) should match input \(x.shape)")
    }
    let xc = x.contiguous(), wc = weight?.contiguous(), bc = bias?.contiguous(), rc = residual?.contiguous()
    let out = x.empty(x.shape)
    let mean = x.empty([channels]), invStd = x.empty([channels])
    out.backend.batchNorm(xc.view, batch: batch, channels: channels, spatial: spatial,
                          weight: wc?.view, bias: bc?.view, runningMean: runningMean?.view, runningVar: runningVar?.view,
                          training: training, momentum: momentum, epsilon: epsilon, residual: rc?.view, relu: relu,
                          into: out.storage, saveMean: mean.storage, saveInvStd: invStd.storage)

    let input = xc.detached(), scale = wc?.detached(), output = out.detached()
    let needX = xc.requiresGrad, needW = wc?.requiresGrad ?? false, needB = bc?.requiresGrad ?? false
    var inputs = [xc]
    if let wc { inputs.append(wc) }
    if let bc { inputs.append(bc) }
    if let rc { inputs.append(rc) }
    let needR = rc?.requiresGrad ?? false
    return out.recorded(from: inputs) { dy in
        let dyc = dy.contiguous()
        let dx = needX ? input.empty(input.shape) : nil
        let dw = needW ? input.empty([channels]) : nil
        let db = needB ? input.empty([channels]) : nil
        // The residual's gradient is the one reaching the normalisation: dy through the ReLU.
        let dr = needR ? input.empty(input.shape) : nil
        dyc.backend.batchNormBackward(dyc.view, x: input.view, y: output.view, relu: relu,
                                      batch: batch, channels: channels, spatial: spatial,
                                      weight: scale?.view, saveMean: mean.storage, saveInvStd: invStd.storage,
                                      training: training, dx: dx?.storage, dWeight: dw?.storage, dBias: db?.storage,
                                      dResidual: dr?.storage)
        var grads: [Tensor?] = [dx]
        if wc != nil { grads.append(dw) }
        if bc != nil { grads.append(db) }
        if rc != nil { grads.append(dr) }
        return grads
    }
}
