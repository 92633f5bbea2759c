// Layer normalization over the last axis: one pass over each row forward (its mean and 1/σ are
// saved), one pass backward. Rows split across threads above the usual threshold.

@inline(__always)
private func load(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always)
private func store(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

/// Σ (x − mean)² over `n` dense elements.
@inline(__always)
private func squaredDeviations(_ x: UnsafePointer<Float>, _ n: Int, mean: Float) -> Float {
    var acc = SIMD16<Float>()
    var j = 0
    while j + 16 <= n {
        let d = load(x + j) - mean
        acc += d * d
        j += 16
    }
    var s = acc.sum()
    while j < n { let d = x[j] - mean; s += d * d; j += 1 }
    return s
}

extension CPUBackend {
    package func layerNorm(_ x: StridedView, weight: StridedView?, bias: StridedView?, rows: Int, cols: Int,
                           epsilon: Float, into y: Storage, mean: Storage, rstd: Storage) {
        let px = x.start, py = y.pointer, pm = mean.pointer, pr = rstd.pointer
        let pw = weight?.start, pb = bias?.start
        let n = Float(cols)
        parallelChunks(rows, work: rows * cols * 2) { range in
            for r in range {
                let xr = px + r * cols, yr = py + r * cols
                let mu = rowSum(xr, cols, stride: 1) / n
                // NOTE: two passes over the (cached) row: E[x²] − E[x]² loses every digit when
                // |mean| ≫ σ, as happens to residual streams.
                let rs = 1 / (squaredDeviations(xr, cols, mean: mu) / n + epsilon).squareRoot()
                pm[r] = mu
                pr[r] = rs
                switch (pw, pb) {
                case let (w?, b?): for j in 0..<cols { yr[j] = (xr[j] - mu) * rs * w[j] + b[j] }
                case let (w?, nil): for j in 0..<cols { yr[j] = (xr[j] - mu) * rs * w[j] }
                case let (nil, b?): for j in 0..<cols { yr[j] = (xr[j] - mu) * rs + b[j] }
                case (nil, nil): for j in 0..<cols { yr[j] = (xr[j] - mu) * rs }
                }
            }
        }
    }

    package func layerNormBackward(x: StridedView, weight: StridedView?, mean: Storage, rstd: Storage,
                                   dy: StridedView, rows: Int, cols: Int,
                                   dx: Storage, dweight: Storage?, dbias: Storage?) {
        let px = x.start, pg = dy.start, pd = dx.pointer, pm = mean.pointer, pr = rstd.pointer
        let pw = weight?.start
        let n = Float(cols)
        let wantParams = dweight != nil || dbias != nil
        let chunks = rows * cols * 3 >= parallelThreshold ? min(threadCount(), rows) : 1
        // Per chunk: Σ dy·x̂ and Σ dy over its rows (then summed), so threads never share a write.
        let partial = Storage(count: wantParams ? chunks * 2 * cols : 1)
        let pp = partial.pointer
        forEachConcurrentChunk(chunks) { c in
            let lo = rows * c / chunks, hi = rows * (c + 1) / chunks
            let accW = pp + c * 2 * cols, accB = accW + cols
            if wantParams { accW.update(repeating: 0, count: 2 * cols) }
            for r in lo..<hi {
                let xr = px + r * cols, gr = pg + r * cols, dr = pd + r * cols
                let mu = pm[r], rs = pr[r]
                // ĝ = dy·w; dx = rs·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)).
                var sumG = SIMD16<Float>(), sumGX = SIMD16<Float>()
                var j = 0
                while j + 16 <= cols {
                    let xh = (load(xr + j) - mu) * rs
                    var g = load(gr + j)
                    if let w = pw { g *= load(w + j) }
                    sumG += g
                    sumGX += g * xh
                    j += 16
                }
                var a = sumG.sum(), b = sumGX.sum()
                while j < cols {
                    let xh = (xr[j] - mu) * rs
                    let g = gr[j] * (pw?[j] ?? 1)
                    a += g
                    b += g * xh
                    j += 1
                }
                let ma = a / n, mb = b / n
                if let w = pw {
                    for j in 0..<cols { dr[j] = rs * (gr[j] * w[j] - ma - (xr[j] - mu) * rs * mb) }
                } else {
                    for j in 0..<cols { dr[j] = rs * (gr[j] - ma - (xr[j] - mu) * rs * mb) }
                }
                if wantParams {
                    for j in 0..<cols {
                        accW[j] += gr[j] * ((xr[j] - mu) * rs)
                        accB[j] += gr[j]
                    }
                }
            }
        }
        guard wantParams else { return }
        let pa = partial.pointer
        if let dweight {
            let out = dweight.pointer
            out.update(from: pa, count: cols)
            for c in 1..<max(chunks, 1) { let s = pa + c * 2 * cols; for j in 0..<cols { out[j] += s[j] } }
        }
        if let dbias {
            let out = dbias.pointer
            out.update(from: pa + cols, count: cols)
            for c in 1..<max(chunks, 1) { let s = pa + c * 2 * cols + cols; for j in 0..<cols { out[j] += s[j] } }
        }
    }
}
