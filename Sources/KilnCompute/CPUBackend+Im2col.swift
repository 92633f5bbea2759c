// im2col and its adjoint col2im for one sample and group of a convolution, one band of output
// rows at a time. Patch rows are `(c, ky, kx)`, columns the output positions `(oy, ox)` of the band.
//
// NOTE: at stride 1 with equal input and output widths ("same" padding) the patch row of one tap
// is one contiguous run of the input plane: it is copied in one move, and only the columns that
// wrapped around the image edges are zeroed after, instead of one short copy per image row.

enum Patches {
    /// One kernel tap `(ky, kx)`: the output rows and columns whose input lies inside the image,
    /// and the input offset `(dy, dx)` of output (0, 0).
    struct Tap {
        var rows: Range<Int>, cols: Range<Int>, dy: Int, dx: Int
    }

    /// The taps of `g`'s kernel in patch order `(ky, kx)`.
    static func taps(_ g: Conv2dGeometry) -> [Tap] {
        var result: [Tap] = []
        for ky in 0..<g.kernelHeight {
            let dy = ky * g.dilation.h - g.padding.h
            let rows = validRange(offset: dy, stride: g.stride.h, size: g.height, count: g.outHeight)
            for kx in 0..<g.kernelWidth {
                let dx = kx * g.dilation.w - g.padding.w
                let cols = validRange(offset: dx, stride: g.stride.w, size: g.width, count: g.outWidth)
                let empty = rows.isEmpty || cols.isEmpty
                result.append(Tap(rows: empty ? 0..<0 : rows, cols: empty ? 0..<0 : cols, dy: dy, dx: dx))
            }
        }
        return result
    }

    /// The outputs `o` whose input `o·stride + offset` lies in `0..<size`.
    static func validRange(offset: Int, stride: Int, size: Int, count: Int) -> Range<Int> {
        let lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride
        let hi = size - 1 - offset < 0 ? 0 : Swift.min(count, (size - 1 - offset) / stride + 1)
        return lo < hi ? lo..<hi : 0..<0
    }

    /// Writes the patches of one group of one sample for output rows `band`:
    /// `col[(c·kh + ky)·kw + kx, (oy − band.lowerBound)·outW + ox] = x[c, oy·sh + ky·dh − ph, ox·sw + kx·dw − pw]`,
    /// 0 outside the image.
    ///
    /// With `split` (stride 2 across), each row of `x` holds its even columns, then its odd ones
    /// (`splitColumns`): every tap then reads a contiguous run instead of every other element.
    static func build(_ x: UnsafePointer<Float>, into col: UnsafeMutablePointer<Float>, _ g: Conv2dGeometry,
                      _ taps: UnsafeBufferPointer<Tap>, band: Range<Int>, split: Bool = false) {
        let (h, w, ow) = (g.height, g.width, g.outWidth)
        let (sh, sw) = g.stride
        let contiguous = g.stride == (1, 1) && ow == w
        let width = band.count * ow
        var row = col
        for c in 0..<g.groupInChannels {
            let src = x + c * h * w
            for tap in taps {
                defer { row += width }
                let rows = tap.rows.clamped(to: band), cols = tap.cols
                if rows.isEmpty { row.update(repeating: 0, count: width); continue }
                let first = rows.lowerBound - band.lowerBound, last = rows.upperBound - band.lowerBound
                if first > 0 { row.update(repeating: 0, count: first * ow) }
                if last < band.count { (row + last * ow).update(repeating: 0, count: (band.count - last) * ow) }
                if contiguous {
                    let j0 = first * w + cols.lowerBound, j1 = (last - 1) * w + cols.upperBound
                    copy(row + j0, src + j0 + (band.lowerBound + tap.dy) * w + tap.dx, j1 - j0)
                    if cols.count < ow {
                        for r in first..<last {
                            zero(row + r * ow, cols.lowerBound)
                            zero(row + r * ow + cols.upperBound, ow - cols.upperBound)
                        }
                    }
                    continue
                }
                let column = split ? splitOffset(tap.dx, width: w) : tap.dx
                for oy in rows {
                    let p = row + (oy - band.lowerBound) * ow, s = src + (oy * sh + tap.dy) * w + column
                    zero(p, cols.lowerBound)
                    if sw == 1 || split {
                        copy(p + cols.lowerBound, s + cols.lowerBound, cols.count)
                    } else {
                        for ox in cols { p[ox] = s[ox * sw] }
                    }
                    zero(p + cols.upperBound, ow - cols.upperBound)
                }
            }
        }
    }

    /// The adjoint of `build` for output rows `band`: adds each patch element onto the input
    /// gradient `x` at the position it came from. Uses `col` as scratch (its wrapped edge
    /// columns are zeroed).
    /// With `split`, `x`'s rows are in the even-then-odd layout of `build`.
    static func accumulate(_ col: UnsafeMutablePointer<Float>, into x: UnsafeMutablePointer<Float>, _ g: Conv2dGeometry,
                           _ taps: UnsafeBufferPointer<Tap>, band: Range<Int>, split: Bool = false) {
        let (h, w, ow) = (g.height, g.width, g.outWidth)
        let (sh, sw) = g.stride
        let contiguous = g.stride == (1, 1) && ow == w
        let width = band.count * ow
        var row = col
        for c in 0..<g.groupInChannels {
            let dst = x + c * h * w
            for tap in taps {
                defer { row += width }
                let rows = tap.rows.clamped(to: band), cols = tap.cols
                if rows.isEmpty { continue }
                let first = rows.lowerBound - band.lowerBound, last = rows.upperBound - band.lowerBound
                if contiguous {
                    if cols.count < ow {
                        for r in first..<last {
                            zero(row + r * ow, cols.lowerBound)
                            zero(row + r * ow + cols.upperBound, ow - cols.upperBound)
                        }
                    }
                    let j0 = first * w + cols.lowerBound, j1 = (last - 1) * w + cols.upperBound
                    let d = dst + (band.lowerBound + tap.dy) * w + tap.dx
                    for j in j0..<j1 { d[j] += row[j] }
                    continue
                }
                let column = split ? splitOffset(tap.dx, width: w) : tap.dx
                for oy in rows {
                    let p = row + (oy - band.lowerBound) * ow, d = dst + (oy * sh + tap.dy) * w + column
                    if sw == 1 || split {
                        for ox in cols { d[ox] += p[ox] }
                    } else {
                        for ox in cols { d[ox * sw] += p[ox] }
                    }
                }
            }
        }
    }

    /// Where input column `2·ox + dx` sits, minus `ox`, in a row split into even then odd columns.
    @inline(__always)
    static func splitOffset(_ dx: Int, width w: Int) -> Int {
        dx & 1 == 0 ? dx >> 1 : (w + 1) / 2 + ((dx - 1) >> 1)
    }

    /// Rewrites each of `rows` rows of `width` floats as its even columns followed by its odd ones.
    static func splitColumns(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, rows: Int, width w: Int) {
        let half = (w + 1) / 2
        for r in 0..<rows {
            let src = x + r * w, even = y + r * w, odd = even + half
            var j = 0
            while 2 * j + 8 <= w {
                let v = UnsafeRawPointer(src + 2 * j).loadUnaligned(as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(even + j).storeBytes(of: v.evenHalf, as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(odd + j).storeBytes(of: v.oddHalf, as: SIMD4<Float>.self)
                j += 4
            }
            while 2 * j < w {
                even[j] = src[2 * j]
                if 2 * j + 1 < w { odd[j] = src[2 * j + 1] }
                j += 1
            }
        }
    }

    /// The inverse of `splitColumns`.
    static func mergeColumns(_ y: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>, rows: Int, width w: Int) {
        let half = (w + 1) / 2
        for r in 0..<rows {
            let dst = x + r * w, even = y + r * w, odd = even + half
            var j = 0
            while 2 * j + 8 <= w {
                var v = SIMD8<Float>()
                v.evenHalf = UnsafeRawPointer(even + j).loadUnaligned(as: SIMD4<Float>.self)
                v.oddHalf = UnsafeRawPointer(odd + j).loadUnaligned(as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(dst + 2 * j).storeBytes(of: v, as: SIMD8<Float>.self)
                j += 4
            }
            while 2 * j < w {
                dst[2 * j] = even[j]
                if 2 * j + 1 < w { dst[2 * j + 1] = odd[j] }
                j += 1
            }
        }
    }

    /// `dst[0..<n] = src[0..<n]`.
    ///
    /// NOTE: `memmove` measured faster here than SIMD16 load/store loops, even for 24-float rows
    /// (and 1.6× faster for 1,000-float runs).
    @inline(__always)
    static func copy(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int) {
        dst.update(from: src, count: n)
    }

    /// Zeros `n` floats. The edges cut off at the image border are usually one or two columns:
    /// stored directly, since a zeroing loop becomes a `memset` call (thousands per sample).
    @inline(__always)
    static func zero(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
        switch n {
        case 0: break
        case 1: p[0] = 0
        case 2: p[0] = 0; p[1] = 0
        default: p.update(repeating: 0, count: n)
        }
    }
}
