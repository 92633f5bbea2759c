extension CPUBackend {
    package func reduce(_ op: ReduceOp, _ x: StridedView, into out: StridedView) {
        precondition(x.layout.shape == out.layout.shape, "reduce: output view \(out.layout.shape) must match input \(x.layout.shape)")
        let identity: Float = switch op {
        case .sum: 0
        case .max: -.infinity
        case .min: .infinity
        }
        // Fill each output element once (not once per input element, from several threads).
        var dense = out.layout
        for i in dense.shape.indices where dense.strides[i] == 0 { dense.shape[i] = 1 }
        fill(StridedView(out.storage, dense), value: identity)
        let src = x.base, dst = out.base
        // Rows may write the same output element: run serially.
        forEachRow(shape: x.layout.shape, out.layout.strides, out.layout.offset,
                   x.layout.strides, x.layout.offset, serial: true) { n, o, s in
            let po = dst + o.0, pi = src + o.1
            switch op {
            case .sum:
                if s.0 == 0 { po[0] += rowSum(pi, n, stride: s.1) }
                else if s.0 == 1 && s.1 == 1 { for i in 0..<n { po[i] += pi[i] } }
                else { for i in 0..<n { po[i * s.0] += pi[i * s.1] } }
            case .max:
                if s.0 == 0 { let m = rowMax(pi, n, stride: s.1); if m > po[0] || m.isNaN { po[0] = m } }
                else { for i in 0..<n { let v = pi[i * s.1]; if v > po[i * s.0] || v.isNaN { po[i * s.0] = v } } }
            case .min:
                if s.0 == 0 { for i in 0..<n { let v = pi[i * s.1]; if v < po[0] || v.isNaN { po[0] = v } } }
                else { for i in 0..<n { let v = pi[i * s.1]; if v < po[i * s.0] || v.isNaN { po[i * s.0] = v } } }
            }
        }
    }

    package func argmax(_ x: StridedView, axis: Int, into out: Storage) {
        // Move `axis` last; every other index combination is one output element.
        var axes = Array(0..<x.layout.rank)
        axes.remove(at: axis)
        axes.append(axis)
        let l = x.layout.permuted(axes)
        let n = l.shape.last!, step = l.strides.last!
        let outer = Layout(shape: Array(l.shape.dropLast()), strides: Array(l.strides.dropLast()), offset: l.offset)
        let src = x.base, dst = out.pointer
        var k = 0
        let shape = outer.shape.isEmpty ? [1] : outer.shape
        let strides = outer.strides.isEmpty ? [0] : outer.strides
        forEachRow(shape: shape, strides, outer.offset, strides, outer.offset, serial: true) { rows, o, s in
            for r in 0..<rows {
                let p = src + o.0 + r * s.0
                var best = 0
                var bestValue = p[0]
                for i in 1..<max(n, 1) where p[i * step] > bestValue || (p[i * step].isNaN && !bestValue.isNaN) {
                    best = i
                    bestValue = p[i * step]
                }
                dst[k] = Float(best)
                k += 1
            }
        }
    }
}
