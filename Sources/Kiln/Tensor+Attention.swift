import KilnCompute

extension Tensor {
    /// This tensor when the attention kernel can read it in place (dense rows that don't overlap),
    /// else a contiguous copy.
    fileprivate var attentionOperand: Tensor {
        let r = rank, rows = shape[r - 2], cols = shape[r - 1]
        let denseRows = cols <= 1 || strides[r - 1] == 1
        let apart = rows <= 1 || strides[r - 2] >= cols
        return denseRows && apart ? self : contiguous()
    }
}

/// Softmax attention `softmax(q·kᵀ/√d [+ causal mask])·v` for `q` `[..., tq, d]`, `k` `[..., tk, d]`
/// and `v` `[..., tk, dv]` with equal leading axes (typically `[batch, heads, time, d]`).
/// With `causal`, query i attends to keys 0...i (PyTorch's `is_causal`).
///
/// Fused: per head, one product for the scores, the scale, mask and softmax in one pass over them,
/// one product with `v`; transposed or strided views go to BLAS without copies. Backward keeps the
/// probabilities only (no other `tq × tk` tensor).
public func scaledDotProductAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, causal: Bool) -> Tensor {
    precondition(q.rank >= 2 && k.rank == q.rank && v.rank == q.rank,
                 "scaledDotProductAttention: q, k, v need the same rank ≥ 2, got \(q.shape), \(k.shape), \(v.shape)")
    let r = q.rank
    let lead = Array(q.shape.prefix(r - 2))
    precondition(Array(k.shape.prefix(r - 2)) == lead && Array(v.shape.prefix(r - 2)) == lead,
                 "scaledDotProductAttention: leading axes of q \(q.shape), k \(k.shape), v \(v.shape) differ")
    precondition(k.shape[r - 1] == q.shape[r - 1],
                 "scaledDotProductAttention: q \(q.shape) and k \(k.shape) differ in feature size")
    precondition(v.shape[r - 2] == k.shape[r - 2] && k.shape[r - 2] > 0,
                 "scaledDotProductAttention: k \(k.shape) and v \(v.shape) need the same, non-zero, length")
    let tq = q.shape[r - 2], tk = k.shape[r - 2], d = q.shape[r - 1], dv = v.shape[r - 1]
    let scale = 1 / Float(Swift.max(d, 1)).squareRoot()
    let qa = q.attentionOperand, ka = k.attentionOperand, va = v.attentionOperand
    let out = qa.empty(lead + [tq, dv])
    let probs = qa.backend.allocate(lead.reduce(1, *) * tq * tk)
    qa.backend.attention(q: qa.view, k: ka.view, v: va.view, scale: scale, causal: causal, probs: probs, out: out.view)
    let qs = qa.detached(), ks = ka.detached(), vs = va.detached()
    return out.recorded(from: [qa, ka, va]) { g in
        let gc = g.attentionOperand
        let dq = gc.empty(qs.shape), dk = gc.empty(ks.shape), dvv = gc.empty(vs.shape)
        gc.backend.attentionBackward(q: qs.view, k: ks.view, v: vs.view, probs: probs, dOut: gc.view,
                                     scale: scale, causal: causal, dq: dq.view, dk: dk.view, dv: dvv.view)
        return [dq, dk, dvv]
    }
}

/// Multi-head self-attention on the packed output of a fused q/k/v projection (nanoGPT's
/// `c_attn`): `qkv` is `[batch, time, 3·width]` with q, k and v side by side, each split into
/// `heads` heads of `width / heads` features. Returns `[batch, time, width]` with the heads side by
/// side, ready for the output projection.
///
/// The same fused kernel as `scaledDotProductAttention`, reading the heads where they lie in `qkv`
/// and writing them where they belong in the result: no transposes, no copies, and backward
/// writes the packed gradient of `qkv` directly.
public func selfAttention(_ qkv: Tensor, heads: Int, causal: Bool) -> Tensor {
    precondition(qkv.rank == 3 && heads > 0 && qkv.shape[2] % (3 * heads) == 0,
                 "selfAttention: needs [batch, time, 3·width] with width divisible by \(heads) heads, got \(qkv.shape)")
    precondition(qkv.shape[1] > 0, "selfAttention: empty sequence in \(qkv.shape)")
    let x = qkv.contiguous()
    let (batch, time, width) = (x.shape[0], x.shape[1], x.shape[2] / 3)
    let d = width / heads
    let scale = 1 / Float(d).squareRoot()
    /// Head `[batch, heads, time, d]` views of a `[batch, time, rowWidth]` storage at `column`.
    func headView(_ t: Tensor, column: Int) -> StridedView {
        let rowWidth = t.shape[2]
        return StridedView(t.storage, Layout(shape: [batch, heads, time, d], strides: [time * rowWidth, d, rowWidth, 1],
                                             offset: t.layout.offset + column))
    }
    let out = x.empty([batch, time, width])
    let probs = x.backend.allocate(batch * heads * time * time)
    x.backend.attention(q: headView(x, column: 0), k: headView(x, column: width), v: headView(x, column: 2 * width),
                        scale: scale, causal: causal, probs: probs, out: headView(out, column: 0))
    let saved = x.detached()
    return out.recorded(from: [x]) { g in
        let gc = g.contiguous()
        let dx = gc.empty([batch, time, 3 * width])
        gc.backend.attentionBackward(
            q: headView(saved, column: 0), k: headView(saved, column: width), v: headView(saved, column: 2 * width),
            probs: probs, dOut: headView(gc, column: 0), scale: scale, causal: causal,
            dq: headView(dx, column: 0), dk: headView(dx, column: width), dv: headView(dx, column: 2 * width))
        return [dx]
    }
}
