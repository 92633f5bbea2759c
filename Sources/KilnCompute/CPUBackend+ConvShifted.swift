import CBLAS

// Stride-1 convolution from shifted copies of the zero-padded input, an alternative to im2col for
// wide images (see `ShiftedPlan`).
//
// The padded input `[C, Hp, Wp]` is copied `kw` times, copy `kx` shifted left by `kx·dw`:
// `xs[c][kx][j] = xpad[c][j + kx·dw]` (flattened planes). Output position `(oy, ox)` of a "wide"
// output row of `Wp` columns is `q = oy·Wp + ox`, and for kernel row `ky` the patch rows `(c, kx)`
// are `xs + (c·kw + kx)·Hp·Wp + ky·dh·Wp`: one matrix with a constant row stride. So
//   forward  out_wide [Cout, oh·Wp] = Σ_ky W_ky [Cout, C·kw] · xs_ky [C·kw, oh·Wp]
//   dW       dW_kyᵀ  [C·kw, Cout]  += xs_ky · dout_wideᵀ      (dout_wide: zeros in the extra columns)
// with the `Wp − ow` extra columns of each wide row dropped (forward) or zero (backward).
//
// NOTE: the copies are `kw` input planes instead of im2col's `kh·kw` patch rows per channel;
// measured on one core, forward 16 → 16 channels of 32×32: 67 → 74–78 GFLOP/s, 32 → 64 of 26×26
// (unpadded): 82 → 90. On narrow images the extra columns cost more than the copies save
// (64 channels of 8×8: 90 → 76), hence the width condition.

/// The products of a stride-1, single-group convolution computed from shifted input copies.
struct ShiftedPlan {
    let g: Conv2dGeometry
    /// Padded height and width, and the padded plane size.
    let hp: Int, wp: Int, plane: Int

    /// The plan for `g`, or nil when im2col is the better choice.
    init?(_ g: Conv2dGeometry) {
        guard g.groups == 1, g.stride == (1, 1), !g.isPointwise, g.kernelWidth > 1,
              g.outWidth >= 24, g.inChannels >= 8 else { return nil }
        self.g = g
        hp = g.height + 2 * g.padding.h
        wp = g.width + 2 * g.padding.w
        plane = hp * wp
    }

    /// Columns of the wide products: `oh · Wp`.
    var wideColumns: Int { g.outHeight * wp }
    /// Elements of the shifted copies.
    var copiesCount: Int { g.inChannels * g.kernelWidth * plane }
    /// Scratch for `forward`: copies, then the wide output.
    var forwardScratch: Int { copiesCount + g.outChannels * wideColumns }
    /// Scratch for `weightGradient`: copies, then `dout_wideᵀ`.
    var weightGradientScratch: Int { copiesCount + wideColumns * g.outChannels }

    /// The weight `[Cout, C, kh, kw]` as the forward needs it: `[kh][Cout][C·kw]`.
    func forwardWeight(_ w: UnsafePointer<Float>, into wk: UnsafeMutablePointer<Float>) {
        let (cout, cin, kh, kw) = (g.outChannels, g.inChannels, g.kernelHeight, g.kernelWidth)
        for co in 0..<cout {
            for c in 0..<cin {
                for ky in 0..<kh {
                    for kx in 0..<kw { wk[((ky * cout + co) * cin + c) * kw + kx] = w[((co * cin + c) * kh + ky) * kw + kx] }
                }
            }
        }
    }

    /// Adds the weight gradient in the layout of `weightGradient` (`[kh][C·kw][Cout]`) to `dw`
    /// (`[Cout, C, kh, kw]`).
    func addWeightGradient(_ part: UnsafePointer<Float>, into dw: UnsafeMutablePointer<Float>) {
        let (cout, cin, kh, kw) = (g.outChannels, g.inChannels, g.kernelHeight, g.kernelWidth)
        for co in 0..<cout {
            for c in 0..<cin {
                for ky in 0..<kh {
                    for kx in 0..<kw { dw[((co * cin + c) * kh + ky) * kw + kx] += part[((ky * cin + c) * kw + kx) * cout + co] }
                }
            }
        }
    }

    /// Writes the `kw` shifted copies of one sample's zero-padded input.
    private func shiftedCopies(_ x: UnsafePointer<Float>, into xs: UnsafeMutablePointer<Float>) {
        let (h, w, ph, pw) = (g.height, g.width, g.padding.h, g.padding.w)
        let (kw, dw) = (g.kernelWidth, g.dilation.w)
        for c in 0..<g.inChannels {
            let base = xs + c * kw * plane
            base.update(repeating: 0, count: ph * wp)
            (base + (ph + h) * wp).update(repeating: 0, count: ph * wp)
            for y in 0..<h {
                let row = base + (ph + y) * wp
                Patches.zero(row, pw)
                (row + pw).update(from: x + (c * h + y) * w, count: w)
                Patches.zero(row + pw + w, pw)
            }
            for kx in 1..<kw {
                let shift = kx * dw
                (base + kx * plane).update(from: base + shift, count: plane - shift)
                (base + kx * plane + plane - shift).update(repeating: 0, count: shift)
            }
        }
    }

    /// `out = W·x + bias` for one sample; `wk` from `forwardWeight`.
    func forward(_ x: UnsafePointer<Float>, _ wk: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                 _ out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let (cout, oh, ow) = (g.outChannels, g.outHeight, g.outWidth)
        let k = g.inChannels * g.kernelWidth, n = wideColumns
        let xs = scratch, wide = scratch + copiesCount
        shiftedCopies(x, into: xs)
        for ky in 0..<g.kernelHeight {
            tiledSgemm(m: cout, n: n, k: k, wk + ky * cout * k, lda: k, xs + ky * g.dilation.h * wp, ldb: plane,
                       beta: ky == 0 ? 0 : 1, wide, ldc: n)
        }
        for co in 0..<cout {
            let b = bias?[co] ?? 0
            for oy in 0..<oh {
                let src = wide + co * n + oy * wp, dst = out + (co * oh + oy) * ow
                if bias == nil { dst.update(from: src, count: ow) } else { for ox in 0..<ow { dst[ox] = src[ox] + b } }
            }
        }
    }

    /// `dWᵀ (+)= xs · dout_wideᵀ` for one sample, into `dwT` laid out `[kh][C·kw][Cout]`.
    func weightGradient(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dwT: UnsafeMutablePointer<Float>,
                        accumulate: Bool, scratch: UnsafeMutablePointer<Float>) {
        shiftedCopies(x, into: scratch)
        correlate(wideTransposed: dy, into: dwT, accumulate: accumulate, scratch: scratch, rows: scratch + copiesCount)
    }

    /// Scratch for `forwardAndCorrelate`: `forward`'s, then `x_wideᵀ`.
    var correlateScratch: Int { forwardScratch + wideColumns * g.outChannels }

    /// The backward pass of a stride-1 convolution through this plan of its transposed convolution
    /// (input `dy`, output `dx`): `dx` as `forward`, and from the same shifted copies of `dy` the
    /// weight gradient `corr (+)= xs_ky · x_wideᵀ` (`x` the forward input, laid out like this
    /// plan's output), saving the copies of `x`. `corr` is `[kh][C·kw][Cout]` of this plan: rows
    /// `(c, kx)` of `dy`'s channels and the flipped kernel, columns `x`'s channels.
    func forwardAndCorrelate(_ dy: UnsafePointer<Float>, _ wk: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                             x: UnsafePointer<Float>, corr: UnsafeMutablePointer<Float>, accumulate: Bool,
                             scratch: UnsafeMutablePointer<Float>) {
        forward(dy, wk, bias: nil, dx, scratch: scratch)
        correlate(wideTransposed: x, into: corr, accumulate: accumulate, scratch: scratch, rows: scratch + forwardScratch)
    }

    /// With the shifted copies in `scratch`: `out_ky (+)= xs_ky · m_wideᵀ` for each kernel row, where
    /// `m` is `[Cout, oh·ow]` (this plan's output layout), transposed into `rows` in the wide layout
    /// with zero rows for the extra columns.
    private func correlate(wideTransposed m: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                           accumulate: Bool, scratch: UnsafeMutablePointer<Float>, rows mT: UnsafeMutablePointer<Float>) {
        let (cout, oh, ow) = (g.outChannels, g.outHeight, g.outWidth)
        let k = g.inChannels * g.kernelWidth, n = wideColumns, p = g.outPlane
        for oy in 0..<oh {
            cblas_somatcopy(CblasRowMajor, CblasTrans, Int32(cout), Int32(ow), 1, m + oy * ow, Int32(p),
                            mT + oy * wp * cout, Int32(cout))
            (mT + (oy * wp + ow) * cout).update(repeating: 0, count: (wp - ow) * cout)
        }
        let tile = Swift.max(16, smallProduct / Swift.max(k * cout, 1))
        for ky in 0..<g.kernelHeight {
            let a = scratch + ky * g.dilation.h * wp, c = out + ky * k * cout
            for j in stride(from: 0, to: n, by: tile) {
                convSgemm(false, false, m: k, n: cout, k: Swift.min(tile, n - j), a + j, lda: plane,
                          mT + j * cout, ldb: cout, beta: accumulate || j > 0 ? 1 : 0, c, ldc: cout)
            }
        }
    }
}
