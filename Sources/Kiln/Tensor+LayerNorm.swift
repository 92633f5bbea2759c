import KilnCompute

/// Layer normalization over the last axis: `(x − mean) / √(var + ε) · weight + bias`, with the
/// biased variance (PyTorch's `layer_norm`). `weight` and `bias` are `[features]` (either may be
/// nil). One fused kernel forward saves each row's mean and 1/σ; one kernel backward.
public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, epsilon: Float = 1e-5) -> Tensor {
    precondition(x.rank >= 1, "layerNorm: input must have at least one axis, got \(x.shape)")
    let cols = x.shape[x.rank - 1]
    for (name, p) in [("weight", weight), ("bias", bias)] {
        if let p { precondition(p.shape == [cols], "layerNorm: \(name) \(p.shape) should be [\(cols)] for input \(x.shape)") }
    }
    let xc = x.contiguous()
    let w = weight?.contiguous(), b = bias?.contiguous()
    let rows = x.count / Swift.max(cols, 1)
    let out = xc.empty(x.shape)
    let mean = xc.empty([rows]), rstd = xc.empty([rows])
    xc.backend.layerNorm(xc.view, weight: w?.view, bias: b?.view, rows: rows, cols: cols, epsilon: epsilon,
                         into: out.storage, mean: mean.storage, rstd: rstd.storage)
    let inputs = [xc] + (w.map { [$0] } ?? []) + (b.map { [$0] } ?? [])
    let saved = xc.detached(), savedW = w?.detached()
    let needW = w?.requiresGrad ?? false, needB = b?.requiresGrad ?? false
    return out.recorded(from: inputs) { dy in
        let g = dy.contiguous()
        let dx = g.empty(saved.shape)
        let dw = needW ? g.empty([cols]) : nil, db = needB ? g.empty([cols]) : nil
        g.backend.layerNormBackward(x: saved.view, weight: savedW?.view, mean: mean.storage, rstd: rstd.storage,
                                    dy: g.view, rows: rows, cols: cols,
                                    dx: dx.storage, dweight: dw?.storage, dbias: db?.storage)
        var grads: [Tensor?] = [dx]
        if w != nil { grads.append(dw) }
        if b != nil { grads.append(db) }
        return grads
    }
}
