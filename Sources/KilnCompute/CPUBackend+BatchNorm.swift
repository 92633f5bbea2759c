// Batch normalisation on the CPU over a contiguous `[batch, channels, spatial]` input (NCHW with
// H·W flattened; `spatial` = 1 for `[N, C]`). Channels are split across threads; each channel is
// summed in the same order whatever the thread count. Forward reads the input twice (statistics,
// then `y = x·a + b` with per-channel `a`, `b`, plus the residual and ReLU in the same pass when
// fused); backward reads `dy` and `x` twice (two sums per channel, then `dx = dy·a + x·b + k`).
//
// NOTE: statistics are sums of `x − k` with `k` the channel's first element (so that variance does
// not cancel catastrophically when |mean| ≫ std), accumulated in Float SIMD16 lanes along one
// contiguous run and in Double across runs.

/// Σ(x − k) and Σ(x − k)² over `n` dense elements.
@inline(__always)
private func shiftedSums(_ p: UnsafePointer<Float>, _ n: Int, shift k: Float) -> (Double, Double) {
    var s1 = SIMD16<Float>(), s2 = SIMD16<Float>()
    var i = 0
    while i + 16 <= n {
        let v = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self) - k
        s1 += v
        s2 += v * v
        i += 16
    }
    var a = Double(s1.sum()), b = Double(s2.sum())
    while i < n {
        let v = p[i] - k
        a += Double(v)
        b += Double(v * v)
        i += 1
    }
    return (a, b)
}

/// Σ dy and Σ dy·(x − mean) over `n` dense elements.
@inline(__always)
private func gradientSums(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int, mean: Float) -> (Double, Double) {
    var s1 = SIMD16<Float>(), s2 = SIMD16<Float>()
    var i = 0
    while i + 16 <= n {
        let g = UnsafeRawPointer(dy + i).loadUnaligned(as: SIMD16<Float>.self)
        let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self) - mean
        s1 += g
        s2 += g * v
        i += 16
    }
    var a = Double(s1.sum()), b = Double(s2.sum())
    while i < n {
        a += Double(dy[i])
        b += Double(dy[i] * (x[i] - mean))
        i += 1
    }
    return (a, b)
}

/// `gradientSums` of g = dy·[y > 0] (the gradient through a ReLU whose output is `y`), writing g
/// to `store` when given.
@inline(__always)
private func maskedGradientSums(_ dy: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                                _ n: Int, mean: Float, store: UnsafeMutablePointer<Float>?) -> (Double, Double) {
    var s1 = SIMD16<Float>(), s2 = SIMD16<Float>()
    var i = 0
    while i + 16 <= n {
        let d = UnsafeRawPointer(dy + i).loadUnaligned(as: SIMD16<Float>.self)
        let g = d.replacing(with: 0, where: .!(UnsafeRawPointer(y + i).loadUnaligned(as: SIMD16<Float>.self) .> 0))
        let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self) - mean
        if let store { UnsafeMutableRawPointer(store + i).storeBytes(of: g, as: SIMD16<Float>.self) }
        s1 += g
        s2 += g * v
        i += 16
    }
    var a = Double(s1.sum()), b = Double(s2.sum())
    while i < n {
        let g = y[i] > 0 ? dy[i] : 0
        store?[i] = g
        a += Double(g)
        b += Double(g * (x[i] - mean))
        i += 1
    }
    return (a, b)
}

extension CPUBackend {
    package func batchNorm(_ x: StridedView, batch: Int, channels: Int, spatial: Int,
                           weight: StridedView?, bias: StridedView?, runningMean: StridedView?, runningVar: StridedView?,
                           training: Bool, momentum: Float, epsilon: Float,
                           into out: Storage, saveMean: Storage, saveInvStd: Storage) {
        batchNorm(x, batch: batch, channels: channels, spatial: spatial, weight: weight, bias: bias,
                  runningMean: runningMean, runningVar: runningVar, training: training, momentum: momentum,
                  epsilon: epsilon, residual: nil, relu: false, into: out, saveMean: saveMean, saveInvStd: saveInvStd)
    }

    package func batchNorm(_ x: StridedView, batch: Int, channels: Int, spatial: Int,
                           weight: StridedView?, bias: StridedView?, runningMean: StridedView?, runningVar: StridedView?,
                           training: Bool, momentum: Float, epsilon: Float, residual: StridedView?, relu: Bool,
                           into out: Storage, saveMean: Storage, saveInvStd: Storage) {
        precondition(training || (runningMean != nil && runningVar != nil),
                     "batchNorm: evaluation needs running statistics")
        let px = x.start, py = out.pointer
        let pw = weight?.start, pb = bias?.start
        let rm = runningMean?.start, rv = runningVar?.start, pr = residual?.start
        let mean = saveMean.pointer, invStd = saveInvStd.pointer
        let count = Double(batch * spatial)
        let rowStride = channels * spatial
        // NOTE: each thread takes a range of channels and walks the samples in memory order (one
        // run of `range.count · spatial` floats per sample): walking one channel's planes sample
        // after sample instead jumps a page per plane and measured 3× slower.
        parallelChunks(channels, work: batch * channels * spatial * 2) { range in
            if training {
                var s1 = [Double](repeating: 0, count: range.count), s2 = s1
                for i in 0..<batch {
                    let row = px + i * rowStride
                    for (j, c) in range.enumerated() {
                        let (a, b) = shiftedSums(row + c * spatial, spatial, shift: px[c * spatial])
                        s1[j] += a
                        s2[j] += b
                    }
                }
                for (j, c) in range.enumerated() {
                    let m = s1[j] / count
                    let variance = Swift.max(s2[j] / count - m * m, 0)
                    mean[c] = Float(Double(px[c * spatial]) + m)
                    invStd[c] = Float(1 / (variance + Double(epsilon)).squareRoot())
                    if let rm, let rv {
                        let unbiased = count > 1 ? variance * count / (count - 1) : variance
                        rm[c] = (1 - momentum) * rm[c] + momentum * mean[c]
                        rv[c] = (1 - momentum) * rv[c] + momentum * Float(unbiased)
                    }
                }
            } else {
                for c in range {
                    mean[c] = rm![c]
                    invStd[c] = 1 / (rv![c] + epsilon).squareRoot()
                }
            }
            // y = x·a + b per channel (+ residual, then ReLU).
            var a = [Float](repeating: 0, count: range.count), b = a
            for (j, c) in range.enumerated() {
                a[j] = (pw?[c] ?? 1) * invStd[c]
                b[j] = (pb?[c] ?? 0) - mean[c] * a[j]
            }
            for i in 0..<batch {
                for (j, c) in range.enumerated() {
                    let o = i * rowStride + c * spatial
                    let src = px + o, dst = py + o, aj = a[j], bj = b[j]
                    switch (pr.map { $0 + o }, relu) {
                    case (nil, false): for e in 0..<spatial { dst[e] = src[e] * aj + bj }
                    case (nil, true): for e in 0..<spatial { let v = src[e] * aj + bj; dst[e] = v > 0 ? v : 0 }
                    case (let r?, false): for e in 0..<spatial { dst[e] = src[e] * aj + bj + r[e] }
                    case (let r?, true): for e in 0..<spatial { let v = src[e] * aj + bj + r[e]; dst[e] = v > 0 ? v : 0 }
                    }
                }
            }
        }
    }

    package func batchNormBackward(_ dy: StridedView, x: StridedView, batch: Int, channels: Int, spatial: Int,
                                   weight: StridedView?, saveMean: Storage, saveInvStd: Storage, training: Bool,
                                   dx: Storage?, dWeight: Storage?, dBias: Storage?) {
        batchNormBackward(dy, x: x, y: nil, batch: batch, channels: channels, spatial: spatial, weight: weight,
                          saveMean: saveMean, saveInvStd: saveInvStd, training: training,
                          dx: dx, dWeight: dWeight, dBias: dBias, dResidual: nil)
    }

    package func batchNormBackward(_ dy: StridedView, x: StridedView, y: StridedView, relu: Bool,
                                   batch: Int, channels: Int, spatial: Int,
                                   weight: StridedView?, saveMean: Storage, saveInvStd: Storage, training: Bool,
                                   dx: Storage?, dWeight: Storage?, dBias: Storage?, dResidual: Storage?) {
        batchNormBackward(dy, x: x, y: relu ? y : nil, batch: batch, channels: channels, spatial: spatial,
                          weight: weight, saveMean: saveMean, saveInvStd: saveInvStd, training: training,
                          dx: dx, dWeight: dWeight, dBias: dBias, dResidual: dResidual)
    }

    /// Backward with the ReLU's mask (`y`: the fused op's output) applied to `dy` on the fly, the
    /// masked gradient stored to `dResidual` in the first pass and read back in the second.
    private func batchNormBackward(_ dy: StridedView, x: StridedView, y: StridedView?, batch: Int, channels: Int,
                                   spatial: Int, weight: StridedView?, saveMean: Storage, saveInvStd: Storage,
                                   training: Bool, dx: Storage?, dWeight: Storage?, dBias: Storage?,
                                   dResidual: Storage?) {
        let pg = dy.start, px = x.start, pw = weight?.start, py = y?.start, pr = dResidual?.pointer
        let mean = saveMean.pointer, invStd = saveInvStd.pointer
        let pdx = dx?.pointer, pdw = dWeight?.pointer, pdb = dBias?.pointer
        let rowStride = channels * spatial
        let n = Double(batch * spatial)
        parallelChunks(channels, work: batch * channels * spatial * 3) { range in
            // Σ dy and Σ dy·(x − mean) per channel, walking the samples in memory order.
            var sumDy = [Double](repeating: 0, count: range.count), sumDyXmu = sumDy
            for i in 0..<batch {
                for (j, c) in range.enumerated() {
                    let o = i * rowStride + c * spatial
                    let (a, b): (Double, Double)
                    if let py {
                        (a, b) = maskedGradientSums(pg + o, py + o, px + o, spatial, mean: mean[c], store: pr.map { $0 + o })
                    } else {
                        pr?.advanced(by: o).update(from: pg + o, count: spatial)
                        (a, b) = gradientSums(pg + o, px + o, spatial, mean: mean[c])
                    }
                    sumDy[j] += a
                    sumDyXmu[j] += b
                }
            }
            // dx = w·s·(dy − Σdy/n − x̂·Σ(dy·x̂)/n), x̂ = (x − mean)·s, as dy·a + x·b + k.
            var a = [Float](repeating: 0, count: range.count), b = a, k = a
            for (j, c) in range.enumerated() {
                let s = invStd[c], w = pw?[c] ?? 1
                pdb?[c] = Float(sumDy[j])
                pdw?[c] = Float(sumDyXmu[j] * Double(s))
                a[j] = w * s
                if training {
                    b[j] = Float(-Double(a[j]) * Double(s) * Double(s) * sumDyXmu[j] / n)
                    k[j] = Float(-Double(a[j]) * sumDy[j] / n) - b[j] * mean[c]
                }
            }
            guard let pdx else { return }
            for i in 0..<batch {
                for (j, c) in range.enumerated() {
                    let o = i * rowStride + c * spatial
                    let v = px + o, d = pdx + o, aj = a[j], bj = b[j], kj = k[j]
                    if pr == nil, let py {
                        let g = pg + o, m = py + o
                        for e in 0..<spatial { d[e] = (m[e] > 0 ? g[e] : 0) * aj + v[e] * bj + kj }
                    } else {
                        let g = pr.map { UnsafePointer($0 + o) } ?? UnsafePointer(pg + o)
                        for e in 0..<spatial { d[e] = g[e] * aj + v[e] * bj + kj }
                    }
                }
            }
        }
    }
}
