extension CPUBackend {
    package func softmax(_ x: StridedView, rows: Int, cols: Int, log: Bool, into y: Storage) {
        let src = x.start, dst = y.pointer
        parallelChunks(rows, work: rows * cols * 4) { range in
            for r in range {
                let pi = src + r * cols, po = dst + r * cols
                let m = rowMax(pi, cols, stride: 1)
                let sum = expShiftedSum(pi, po, cols, shift: m)
                if log {
                    let lse = m + _logf(sum)
                    for i in 0..<cols { po[i] = pi[i] - lse }
                } else {
                    let inv = 1 / sum
                    for i in 0..<cols { po[i] *= inv }
                }
            }
        }
    }

    package func softmaxBackward(y: StridedView, dy: StridedView, rows: Int, cols: Int, log: Bool, into dx: Storage) {
        let py = y.start, pg = dy.start, pd = dx.pointer
        parallelChunks(rows, work: rows * cols * 4) { range in
            for r in range {
                let yr = py + r * cols, gr = pg + r * cols, dr = pd + r * cols
                if log {
                    // dx = dy - softmax * sum(dy), softmax = exp(y)
                    let s = rowSum(gr, cols, stride: 1)
                    for i in 0..<cols { dr[i] = gr[i] - sexp(yr[i]) * s }
                } else {
                    // dx = y * (dy - sum(dy * y))
                    var dot: Float = 0
                    for i in 0..<cols { dot += gr[i] * yr[i] }
                    for i in 0..<cols { dr[i] = yr[i] * (gr[i] - dot) }
                }
            }
        }
    }

    package func crossEntropy(_ logits: StridedView, labels: [Int32], rows: Int, cols: Int, smoothing: Float,
                              probs: Storage) -> Float {
        precondition(labels.count == rows, "crossEntropy: \(labels.count) labels for \(rows) rows")
        let src = logits.start, dst = probs.pointer
        let onTarget = 1 - smoothing, spread = smoothing / Float(cols)
        var total: Double = 0
        labels.withUnsafeBufferPointer { lab in
            for r in 0..<rows {
                let label = Int(lab[r])
                precondition(label >= 0 && label < cols, "crossEntropy: label \(label) out of range 0..<\(cols) in row \(r)")
                let pi = src + r * cols, po = dst + r * cols
                let m = rowMax(pi, cols, stride: 1)
                let sum = expShiftedSum(pi, po, cols, shift: m)
                let lse = m + _logf(sum)
                let inv = 1 / sum
                for i in 0..<cols { po[i] *= inv }
                var loss = onTarget * (lse - pi[label])
                if smoothing != 0 { loss += spread * (Float(cols) * lse - rowSum(pi, cols, stride: 1)) }
                total += Double(loss)
            }
        }
        return Float(total / Double(max(rows, 1)))
    }

    package func crossEntropyBackward(probs: StridedView, labels: [Int32], rows: Int, cols: Int, smoothing: Float,
                                      scale: Float, into dx: Storage) {
        let pp = probs.start, pd = dx.pointer
        let onTarget = 1 - smoothing, spread = smoothing / Float(cols)
        for r in 0..<rows {
            let pr = pp + r * cols, dr = pd + r * cols
            for i in 0..<cols { dr[i] = scale * (pr[i] - spread) }
            dr[Int(labels[r])] -= scale * onTarget
        }
    }
}
