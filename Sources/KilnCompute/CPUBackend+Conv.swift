import CBLAS

// 2-D convolution on the CPU: im2col + single-threaded `cblas_sgemm` calls per sample and group,
// with the batch split across Kiln's threads (each thread owns its im2col scratch buffer).
//
// Shapes, per sample n and group g (K = patchSize = Cin/groups·kh·kw, P = outH·outW):
//   forward  out[n,g]  [Cout/g, P] = W[g] [Cout/g, K] · col [K, P]
//   dW       dWᵀ[g]    [K, Cout/g] += col [K, P] · dout[n,g]ᵀ   (dout transposed first; per
//                      thread, the threads' sums added after)
//   dx       dcol [K, P] = W[g]ᵀ · dout[n,g];  dx[n,g] = col2im(dcol), or, at stride 1 with few
//            output channels or "same" padding, the forward convolution of dout with the flipped,
//            transposed kernel (padding d·(k−1) − p): the same fast products as forward.
//
// NOTE: the per-sample products are small (M = 16–64 output channels) and OpenBLAS's own threads
// split them badly; a whole-batch GEMM would need a transposing copy back to NCHW. Measured on
// one core here: `dWᵀ` (M = K) runs 1.3–3× faster than `dout · colᵀ` (M = Cout) for Cout = 16;
// the im2col matrix is built in bands of output rows of at most 256 KB so that it is still in L2
// when the product reads it; products are tiled to stay on OpenBLAS's small-matrix kernels.

/// One single-threaded row-major `cblas_sgemm`.
@inline(__always)
func convSgemm(_ transA: Bool, _ transB: Bool, m: Int, n: Int, k: Int,
                   _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
                   beta: Float, _ c: UnsafeMutablePointer<Float>, ldc: Int) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// OpenBLAS (0.3.21, AVX-512 kernels) runs products of at most 100³ multiply-adds through its
/// "small matrix" kernels, which skip packing.
let smallProduct = 1_000_000

/// `C = A·B + beta·C`, no transposes, as tiles of at most 32 rows by a multiple of 32 columns whose
/// products stay under `smallProduct` (one call when no such tiling exists).
///
/// NOTE: measured here on one core, the convolution products (M = 16…576, N = 64…1024,
/// K = 16…576) ran 60–93 GFLOP/s as one call and 95–112 GFLOP/s tiled: OpenBLAS's small kernels
/// read A and B in place (they are in L1/L2 here), where the large path packs them first.
@inline(__always)
func tiledSgemm(m: Int, n: Int, k: Int, _ a: UnsafePointer<Float>, lda: Int,
                        _ b: UnsafePointer<Float>, ldb: Int, beta: Float, _ c: UnsafeMutablePointer<Float>, ldc: Int) {
    let mt = Swift.min(m, 32)
    let nt = Swift.min(n, Swift.max(32, smallProduct / Swift.max(mt * k, 1) / 32 * 32))
    if mt * nt * k > smallProduct || (mt == m && nt == n) {
        convSgemm(false, false, m: m, n: n, k: k, a, lda: lda, b, ldb: ldb, beta: beta, c, ldc: ldc)
        return
    }
    for i in stride(from: 0, to: m, by: mt) {
        for j in stride(from: 0, to: n, by: nt) {
            convSgemm(false, false, m: Swift.min(mt, m - i), n: Swift.min(nt, n - j), k: k, a + i * lda, lda: lda,
                  b + j, ldb: ldb, beta: beta, c + i * ldc + j, ldc: ldc)
        }
    }
}

/// How many threads split a batch of convolutions: one when OpenBLAS threads itself
/// (`KILN_OPENBLAS_THREADS`) or the work is too small to pay for a split.
private func batchThreads(_ g: Conv2dGeometry) -> Int {
    _ = configureOpenBLAS
    if openBLASThreads != nil || g.flops < gemmSplitThreshold { return 1 }
    return max(1, min(threadCount(), g.batch))
}

/// Runs `body(thread, samples)` for `threads` contiguous chunks of `0..<batch`.
@inline(__always)
private func forEachChunk(_ batch: Int, threads: Int, _ body: (Int, Range<Int>) -> Void) {
    if threads <= 1 { body(0, 0..<batch); return }
    forEachConcurrentChunk(threads) { t in body(t, (batch * t / threads)..<(batch * (t + 1) / threads)) }
}

/// The convolution whose output is the input gradient of stride-1 `g`: over `dy` with the flipped,
/// transposed kernel and padding `d·(k − 1) − p`; nil when that padding would be negative, or
/// when col2im measures faster.
///
/// NOTE: measured on one core (whole backward pass): with few output channels the col2im product
/// `Wᵀ·dy` reduces over only Cout/groups terms and runs poorly (16 → 16 channels of 32×32: 68 vs
/// 73 GFLOP/s); with "same" padding the transposed problem has the forward's size and also won
/// at 32 and 64 channels (84 vs 81, 91 vs 88); an unpadded convolution's transposed problem is
/// larger than it (32 → 64 channels of 26×26: col2im 94 vs 89).
private func transposedGeometry(_ g: Conv2dGeometry) -> Conv2dGeometry? {
    guard g.stride == (1, 1) else { return nil }
    let ph = g.dilation.h * (g.kernelHeight - 1) - g.padding.h, pw = g.dilation.w * (g.kernelWidth - 1) - g.padding.w
    guard ph >= 0 && pw >= 0, g.groupOutChannels < 32 || (ph == g.padding.h && pw == g.padding.w) else { return nil }
    return Conv2dGeometry(batch: g.batch, inChannels: g.outChannels, height: g.outHeight, width: g.outWidth,
                          outChannels: g.inChannels, kernelHeight: g.kernelHeight, kernelWidth: g.kernelWidth,
                          stride: (1, 1), padding: (ph, pw), dilation: (g.dilation.h, g.dilation.w), groups: g.groups)
}

extension CPUBackend {
    package func conv2d(_ x: StridedView, weight: StridedView, bias: StridedView?, _ g: Conv2dGeometry,
                        into out: Storage) {
        let px = x.start, pw = weight.start, pb = bias?.start, po = out.pointer
        let inSample = g.inChannels * g.height * g.width, outSample = g.outChannels * g.outPlane
        if let shifted = ShiftedPlan(g) {
            let wk = Storage(count: weight.layout.count)
            shifted.forwardWeight(pw, into: wk.pointer)
            let pwk = UnsafePointer(wk.pointer)
            forEachChunk(g.batch, threads: batchThreads(g)) { _, samples in
                guard !samples.isEmpty else { return }
                let scratch = Storage(count: shifted.forwardScratch)
                withExtendedLifetime(scratch) {
                    for n in samples {
                        shifted.forward(px + n * inSample, pwk, bias: pb, po + n * outSample, scratch: scratch.pointer)
                    }
                }
            }
            withExtendedLifetime(wk) {}
            return
        }
        let plan = ConvPlan(g)
        forEachChunk(g.batch, threads: batchThreads(g)) { _, samples in
            guard !samples.isEmpty else { return }
            let scratch = plan.scratchCount == 0 ? nil : Storage(count: plan.scratchCount)
            withExtendedLifetime(scratch) {
                for n in samples {
                    let on = po + n * outSample
                    if let pb {
                        for co in 0..<g.outChannels { (on + co * g.outPlane).update(repeating: pb[co], count: g.outPlane) }
                    }
                    plan.forward(px + n * inSample, pw, on, beta: pb == nil ? 0 : 1, scratch: scratch?.pointer)
                }
            }
        }
    }

    package func conv2dBackward(_ dy: StridedView, x: StridedView, weight: StridedView, _ g: Conv2dGeometry,
                                dx: Storage?, dWeight: Storage?, dBias: Storage?) {
        if g.batch == 0 {
            dWeight?.pointer.update(repeating: 0, count: weight.layout.count)
            dBias?.pointer.update(repeating: 0, count: g.outChannels)
            return
        }
        let pdy = dy.start, px = x.start, pw = weight.start
        let (cinG, coutG, k, p) = (g.groupInChannels, g.groupOutChannels, g.patchSize, g.outPlane)
        let inSample = g.inChannels * g.height * g.width, outSample = g.outChannels * p
        let threads = batchThreads(g)
        let plan = ConvPlan(g)
        var shifted = dWeight == nil ? nil : ShiftedPlan(g)

        // dx: a forward convolution of dy at stride 1 (flipped kernel [Cin][Cout/groups][kh][kw],
        // from shifted copies or im2col), else col2im of Wᵀ·dy (Wᵀ as [groups][K][Cout/groups]).
        let dxGeometry = dx == nil ? nil : transposedGeometry(g)
        let transposed = dxGeometry.map(ConvPlan.init)
        let transposedShifted = dxGeometry.flatMap(ShiftedPlan.init)
        // With dx from patches (or shifted copies) of dy, dW comes from the same ones
        // (`forwardAndCorrelate`): one im2col of the backward pass instead of two.
        let correlate = dWeight != nil && transposedShifted == nil && transposed.map { t in
            !t.g.isPointwise && smallProduct / Swift.max(t.g.patchSize * t.g.groupOutChannels, 1) >= 16
        } == true
        let correlateShifted = dWeight != nil && transposedShifted != nil
        if correlate || correlateShifted { shifted = nil }
        let weightForDx = dx == nil ? nil : Storage(count: g.outChannels * k)
        if let wx = weightForDx?.pointer {
            let (kh, kw) = (g.kernelHeight, g.kernelWidth)
            for grp in 0..<g.groups {
                for co in 0..<coutG {
                    for ci in 0..<cinG {
                        for ky in 0..<kh {
                            for kx in 0..<kw {
                                let value = pw[(((grp * coutG + co) * cinG + ci) * kh + ky) * kw + kx]
                                if transposed != nil {
                                    wx[(((grp * cinG + ci) * coutG + co) * kh + kh - 1 - ky) * kw + kw - 1 - kx] = value
                                } else {
                                    wx[(grp * k + (ci * kh + ky) * kw + kx) * coutG + co] = value
                                }
                            }
                        }
                    }
                }
            }
            if let transposedShifted {
                let flipped = Storage(count: g.outChannels * k)
                flipped.pointer.update(from: wx, count: g.outChannels * k)
                transposedShifted.forwardWeight(flipped.pointer, into: wx)
            }
        }
        // Per-thread partial sums: dWᵀ ([groups][K][Cout/g], or `ShiftedPlan`'s layout) and the bias gradient.
        let weightParts = dWeight == nil ? [] : (0..<threads).map { _ in Storage(count: g.groups * k * coutG) }
        let biasParts = dBias == nil ? [] : (0..<threads).map { _ in Storage(count: g.outChannels) }
        let weightPointers = weightParts.map(\.pointer), biasPointers = biasParts.map(\.pointer)
        let pdx = dx?.pointer, pwx = weightForDx.map { UnsafePointer($0.pointer) }
        let weightScratch = dWeight == nil || correlate || correlateShifted ? 0
            : shifted?.weightGradientScratch ?? plan.scratchCount
        let inputScratch = dx == nil ? 0
            : (correlateShifted ? transposedShifted?.correlateScratch : transposedShifted?.forwardScratch)
                ?? transposed?.scratchCount ?? plan.scratchCount
        let scratchCount = Swift.max(weightScratch, inputScratch)
        forEachChunk(g.batch, threads: threads) { t, samples in
            guard !samples.isEmpty else { return }
            let dwT = weightPointers.isEmpty ? nil : weightPointers[t]
            let db = biasPointers.isEmpty ? nil : biasPointers[t]
            db?.update(repeating: 0, count: g.outChannels)
            let scratch = scratchCount == 0 ? nil : Storage(count: scratchCount)
            // dyᵀ for `weightGradient`, or xᵀ for `forwardAndCorrelate`.
            let dyT = dwT == nil || shifted != nil || correlateShifted ? nil
                : Storage(count: correlate ? g.height * g.width * cinG : p * coutG)
            withExtendedLifetime((scratch, dyT)) {
                for n in samples {
                    let dyn = pdy + n * outSample, first = n == samples.lowerBound
                    if let db {
                        for co in 0..<g.outChannels { db[co] += rowSum(dyn + co * p, p, stride: 1) }
                    }
                    if correlateShifted, let dwT, let transposedShifted, let pwx, let pdx {
                        transposedShifted.forwardAndCorrelate(dyn, pwx, pdx + n * inSample, x: px + n * inSample,
                                                              corr: dwT, accumulate: !first, scratch: scratch!.pointer)
                        continue
                    }
                    if correlate, let dwT, let transposed, let pwx, let pdx {
                        transposed.forwardAndCorrelate(dyn, pwx, pdx + n * inSample, x: px + n * inSample, corr: dwT,
                                                       accumulate: !first, scratch: scratch!.pointer, xT: dyT!.pointer)
                        continue
                    }
                    if let dwT {
                        if let shifted {
                            shifted.weightGradient(px + n * inSample, dyn, dwT, accumulate: !first, scratch: scratch!.pointer)
                        } else {
                            plan.weightGradient(px + n * inSample, dyn, dwT, accumulate: !first,
                                                scratch: scratch?.pointer, dyT: dyT!.pointer)
                        }
                    }
                    if let pdx, let pwx {
                        let dxn = pdx + n * inSample
                        if let transposedShifted {
                            transposedShifted.forward(dyn, pwx, bias: nil, dxn, scratch: scratch!.pointer)
                        } else if let transposed {
                            transposed.forward(dyn, pwx, dxn, beta: 0, scratch: scratch?.pointer)
                        } else {
                            plan.inputGradient(dyn, pwx, dxn, scratch: scratch!.pointer)
                        }
                    }
                }
            }
        }
        // Sum the partials in thread order (deterministic for a given thread count).
        if let dWeight {
            let dst = dWeight.pointer
            if correlateShifted {
                // [ky′][(co, kx′)][ci] of the flipped kernel (one group).
                let (kh, kw) = (g.kernelHeight, g.kernelWidth)
                for co in 0..<coutG {
                    for ci in 0..<cinG {
                        for ky in 0..<kh {
                            for kx in 0..<kw {
                                let row = ((kh - 1 - ky) * coutG + co) * kw + kw - 1 - kx
                                var s: Float = 0
                                for part in weightParts { s += part.pointer[row * cinG + ci] }
                                dst[((co * cinG + ci) * kh + ky) * kw + kx] = s
                            }
                        }
                    }
                }
            } else if correlate {
                // Rows (co, ky′, kx′) of the flipped kernel per group, columns ci.
                let (kh, kw) = (g.kernelHeight, g.kernelWidth), rowsPerGroup = coutG * kh * kw
                for grp in 0..<g.groups {
                    for co in 0..<coutG {
                        for ci in 0..<cinG {
                            for ky in 0..<kh {
                                for kx in 0..<kw {
                                    let row = grp * rowsPerGroup + (co * kh + kh - 1 - ky) * kw + kw - 1 - kx
                                    var s: Float = 0
                                    for part in weightParts { s += part.pointer[row * cinG + ci] }
                                    dst[(((grp * coutG + co) * cinG + ci) * kh + ky) * kw + kx] = s
                                }
                            }
                        }
                    }
                }
            } else if let shifted {
                dst.update(repeating: 0, count: weight.layout.count)
                for part in weightParts { shifted.addWeightGradient(part.pointer, into: dst) }
            } else {
                for grp in 0..<g.groups {
                    for co in 0..<coutG {
                        let row = dst + (grp * coutG + co) * k
                        for kk in 0..<k {
                            var s: Float = 0
                            for part in weightParts { s += part.pointer[(grp * k + kk) * coutG + co] }
                            row[kk] = s
                        }
                    }
                }
            }
        }
        if let dBias {
            let dst = dBias.pointer
            for co in 0..<g.outChannels {
                var s: Float = 0
                for part in biasParts { s += part.pointer[co] }
                dst[co] = s
            }
        }
    }
}
