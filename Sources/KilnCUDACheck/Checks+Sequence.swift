import KilnCompute

extension Checker {
    func checkLayerNorm() {
        let rows = 40, cols = 300
        // A mean far from 0 (as in residual streams) tests the two-pass variance.
        let x = twin(values(rows * cols, 4, 6)), w = twin(values(cols, 0.5, 1.5)), b = twin(values(cols))
        for (useWeight, useBias) in [(true, true), (false, false), (true, false)] {
            let y = output(rows * cols), mean = output(rows), rstd = output(rows)
            let weight = useWeight ? w.view([cols]) : nil, bias = useBias ? b.view([cols]) : nil
            cpu.layerNorm(x.view([rows, cols]).cpu, weight: weight?.cpu, bias: bias?.cpu, rows: rows, cols: cols,
                          epsilon: 1e-5, into: y.cpu, mean: mean.cpu, rstd: rstd.cpu)
            gpu.layerNorm(x.view([rows, cols]).gpu, weight: weight?.gpu, bias: bias?.gpu, rows: rows, cols: cols,
                          epsilon: 1e-5, into: y.gpu, mean: mean.gpu, rstd: rstd.gpu)
            let label = "layerNorm weight \(useWeight) bias \(useBias)"
            compare("\(label): y", y, tolerance: 2e-5)
            compare("\(label): mean", mean, tolerance: 1e-5)
            compare("\(label): rstd", rstd, tolerance: 2e-5)
            // Backward from the CPU's statistics on both sides.
            let m = twin(host(mean.cpu, rows)), r = twin(host(rstd.cpu, rows)), dy = twin(values(rows * cols))
            let dx = output(rows * cols), dw = output(cols), db = output(cols)
            cpu.layerNormBackward(x: x.view([rows, cols]).cpu, weight: weight?.cpu, mean: m.cpu, rstd: r.cpu,
                                  dy: dy.view([rows, cols]).cpu, rows: rows, cols: cols, dx: dx.cpu,
                                  dweight: useWeight ? dw.cpu : nil, dbias: useBias ? db.cpu : nil)
            gpu.layerNormBackward(x: x.view([rows, cols]).gpu, weight: weight?.gpu, mean: m.gpu, rstd: r.gpu,
                                  dy: dy.view([rows, cols]).gpu, rows: rows, cols: cols, dx: dx.gpu,
                                  dweight: useWeight ? dw.gpu : nil, dbias: useBias ? db.gpu : nil)
            compare("\(label): dx", dx, tolerance: 5e-5)
            compare("\(label): dweight", dw, tolerance: 5e-5)
            compare("\(label): dbias", db, tolerance: 5e-5)
        }
    }

    /// How attention operands lie in memory, which decides how their head products are batched.
    private enum HeadLayout: CaseIterable {
        /// `[2, 3, T, D]` dense: the heads merge into one batch axis (one batched product).
        case dense
        /// `[2, 3, T, D]` read from a `[2, T, 3, D]` buffer: two head axes (batched products in a loop).
        case permuted
        /// `[2, 3, 2, T, D]` read from a `[2, 2, T, 3, D]` buffer: no head axes merge (a product per head).
        case scattered
    }

    /// A fresh operand of `t` rows of `d` columns per head, and its layout.
    private func heads(_ t: Int, _ d: Int, _ kind: HeadLayout) -> (Twin, Layout) {
        switch kind {
        case .dense: (twin(values(6 * t * d)), Layout(contiguous: [2, 3, t, d]))
        case .permuted: (twin(values(6 * t * d)), Layout(contiguous: [2, t, 3, d]).permuted([0, 2, 1, 3]))
        case .scattered: (twin(values(12 * t * d)), Layout(contiguous: [2, 2, t, 3, d]).permuted([1, 3, 0, 2, 4]))
        }
    }

    func checkAttention() {
        let d = 16
        for (tq, tk) in [(20, 20), (12, 20)] {
            for causal in [false, true] {
                for kind in HeadLayout.allCases {
                    let (q, ql) = heads(tq, d, kind), (k, kl) = heads(tk, d, kind), (v, vl) = heads(tk, d, kind)
                    let (o, ol) = heads(tq, d, kind)
                    let probs = output(q.count / d * tk)
                    let scale = 1 / Float(d).squareRoot()
                    cpu.attention(q: q.view(ql).cpu, k: k.view(kl).cpu, v: v.view(vl).cpu, scale: scale, causal: causal,
                                  probs: probs.cpu, out: o.view(ol).cpu)
                    gpu.attention(q: q.view(ql).gpu, k: k.view(kl).gpu, v: v.view(vl).gpu, scale: scale, causal: causal,
                                  probs: probs.gpu, out: o.view(ol).gpu)
                    let label = "attention tq \(tq) tk \(tk) causal \(causal) \(kind)"
                    compare("\(label): probs", probs, tolerance: 1e-5)
                    compare("\(label): out", o, tolerance: 1e-5)
                    let p = twin(host(probs.cpu, probs.count))
                    let (g, gl) = heads(tq, d, kind), (dq, _) = heads(tq, d, kind)
                    let (dk, _) = heads(tk, d, kind), (dv, _) = heads(tk, d, kind)
                    cpu.attentionBackward(q: q.view(ql).cpu, k: k.view(kl).cpu, v: v.view(vl).cpu, probs: p.cpu,
                                          dOut: g.view(gl).cpu, scale: scale, causal: causal,
                                          dq: dq.view(ql).cpu, dk: dk.view(kl).cpu, dv: dv.view(vl).cpu)
                    gpu.attentionBackward(q: q.view(ql).gpu, k: k.view(kl).gpu, v: v.view(vl).gpu, probs: p.gpu,
                                          dOut: g.view(gl).gpu, scale: scale, causal: causal,
                                          dq: dq.view(ql).gpu, dk: dk.view(kl).gpu, dv: dv.view(vl).gpu)
                    compare("\(label): dq", dq, tolerance: 2e-5)
                    compare("\(label): dk", dk, tolerance: 2e-5)
                    compare("\(label): dv", dv, tolerance: 2e-5)
                }
            }
        }
    }
}
