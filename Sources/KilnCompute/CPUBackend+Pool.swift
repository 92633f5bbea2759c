// 2-D pooling on the CPU: direct loops over each image plane, planes split across threads.
// Window bounds along each axis are computed once per call (`Pool2dGeometry.windows`).

/// The index (within its plane) of each max-pool output's winner, stored as a Float: exact, since
/// a plane holds at most 2²⁴ elements.
private let maxPlaneSize = 1 << 24

/// `mask ? a : b` per lane, as bit operations.
///
/// NOTE: `replacing(with:where:)` compiled to a test and branch per lane for these constant
/// offsets (not for the Float maxima); the bitwise form stays a blend.
@inline(__always)
private func select(_ a: SIMD4<Int32>, _ b: SIMD4<Int32>, _ mask: SIMDMask<SIMD4<Int32>>) -> SIMD4<Int32> {
    let m = unsafeBitCast(mask, to: SIMD4<Int32>.self)
    return (a & m) | (b & ~m)
}

/// 2×2 max pooling at stride 2 of one plane, four outputs at a time with lane selects (branches on
/// the comparisons of random data mispredict half the time: 14 ns per output, against ~2 here).
/// Ties keep the first element in (row, column) order; NaN wins, as in PyTorch.
@inline(__always)
private func maxPool2x2(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ index: UnsafeMutablePointer<Float>,
                        width w: Int, outHeight oh: Int, outWidth ow: Int) {
    let lanes = SIMD4<Float>(0, 2, 4, 6)
    let one = SIMD4<Int32>(repeating: 1), down = SIMD4<Int32>(repeating: Int32(w)), diagonal = down &+ 1
    for oy in 0..<oh {
        let r0 = x + 2 * oy * w, r1 = r0 + w
        let base = Float(2 * oy * w)
        var ox = 0
        while ox + 4 <= ow {
            let top = UnsafeRawPointer(r0 + 2 * ox).loadUnaligned(as: SIMD8<Float>.self)
            let bottom = UnsafeRawPointer(r1 + 2 * ox).loadUnaligned(as: SIMD8<Float>.self)
            var best = top.evenHalf, offset = SIMD4<Int32>()
            let b = top.oddHalf, c = bottom.evenHalf, d = bottom.oddHalf
            let takeB = (b .> best) .| (b .!= b)
            best = best.replacing(with: b, where: takeB)
            offset = select(one, offset, takeB)
            let takeC = (c .> best) .| (c .!= c)
            best = best.replacing(with: c, where: takeC)
            offset = select(down, offset, takeC)
            let takeD = (d .> best) .| (d .!= d)
            best = best.replacing(with: d, where: takeD)
            offset = select(diagonal, offset, takeD)
            UnsafeMutableRawPointer(y + oy * ow + ox).storeBytes(of: best, as: SIMD4<Float>.self)
            let at = SIMD4<Float>(offset) + lanes + (base + Float(2 * ox))
            UnsafeMutableRawPointer(index + oy * ow + ox).storeBytes(of: at, as: SIMD4<Float>.self)
            ox += 4
        }
        while ox < ow {
            var best = r0[2 * ox], at = 0
            @inline(__always) func consider(_ v: Float, _ o: Int) {
                if v > best || v.isNaN { best = v; at = o }
            }
            consider(r0[2 * ox + 1], 1)
            consider(r1[2 * ox], w)
            consider(r1[2 * ox + 1], w + 1)
            y[oy * ow + ox] = best
            index[oy * ow + ox] = Float(2 * oy * w + 2 * ox + at)
            ox += 1
        }
    }
}

extension CPUBackend {
    package func maxPool2d(_ x: StridedView, _ g: Pool2dGeometry, into out: Storage, indices: Storage) {
        precondition(!g.adaptive, "maxPool2d: adaptive max pooling is not supported")
        precondition(g.height * g.width <= maxPlaneSize, "maxPool2d: plane of \(g.height)×\(g.width) is too large")
        let rows = g.rowWindows, cols = g.columnWindows
        let (h, w, oh, ow) = (g.height, g.width, g.outHeight, g.outWidth)
        let src = x.start, dst = out.pointer, idx = indices.pointer
        rows.withUnsafeBufferPointer { rows in
            cols.withUnsafeBufferPointer { cols in
                parallelChunks(g.planes, work: g.planes * h * w) { planes in
                    for plane in planes {
                        let pi = src + plane * h * w, po = dst + plane * oh * ow, px = idx + plane * oh * ow
                        if g.kernel == (2, 2) && g.stride == (2, 2) && g.padding == (0, 0) {
                            maxPool2x2(pi, po, px, width: w, outHeight: oh, outWidth: ow)
                            continue
                        }
                        if g.kernel == (1, 1) && g.padding == (0, 0) {
                            // A strided subsample.
                            for oy in 0..<oh {
                                for ox in 0..<ow {
                                    let at = oy * g.stride.h * w + ox * g.stride.w
                                    po[oy * ow + ox] = pi[at]
                                    px[oy * ow + ox] = Float(at)
                                }
                            }
                            continue
                        }
                        for oy in 0..<oh {
                            let rw = rows[oy]
                            for ox in 0..<ow {
                                let cw = cols[ox]
                                var best = -Float.infinity, at = rw.lo * w + cw.lo
                                for iy in rw.lo..<rw.hi {
                                    for ix in cw.lo..<cw.hi {
                                        let v = pi[iy * w + ix]
                                        // Branch-free: the comparisons are unpredictable.
                                        let take = v > best || v.isNaN
                                        best = take ? v : best
                                        at = take ? iy * w + ix : at
                                    }
                                }
                                po[oy * ow + ox] = best
                                px[oy * ow + ox] = Float(at)
                            }
                        }
                    }
                }
            }
        }
    }

    package func maxPool2dBackward(_ dy: StridedView, indices: Storage, _ g: Pool2dGeometry, into dx: Storage) {
        let (inPlane, outPlane) = (g.height * g.width, g.outHeight * g.outWidth)
        let src = dy.start, dst = dx.pointer, idx = indices.pointer
        parallelChunks(g.planes, work: g.planes * inPlane) { planes in
            for plane in planes {
                let pd = dst + plane * inPlane, pg = src + plane * outPlane, pi = idx + plane * outPlane
                pd.update(repeating: 0, count: inPlane)
                for o in 0..<outPlane { pd[Int(pi[o])] += pg[o] }
            }
        }
    }

    package func avgPool2d(_ x: StridedView, _ g: Pool2dGeometry, into out: Storage) {
        let rows = g.rowWindows, cols = g.columnWindows
        let (h, w, oh, ow) = (g.height, g.width, g.outHeight, g.outWidth)
        let src = x.start, dst = out.pointer
        // Global pooling: one sum per plane.
        if oh == 1 && ow == 1 && rows[0].extent == h && cols[0].extent == w && rows[0].lo == 0 && cols[0].lo == 0 {
            let scale = 1 / Float(h * w)
            parallelChunks(g.planes, work: g.planes * h * w) { planes in
                for plane in planes { dst[plane] = rowSum(src + plane * h * w, h * w, stride: 1) * scale }
            }
            return
        }
        rows.withUnsafeBufferPointer { rows in
            cols.withUnsafeBufferPointer { cols in
                parallelChunks(g.planes, work: g.planes * h * w) { planes in
                    for plane in planes {
                        let pi = src + plane * h * w, po = dst + plane * oh * ow
                        for oy in 0..<oh {
                            let rw = rows[oy]
                            for ox in 0..<ow {
                                let cw = cols[ox]
                                var s: Float = 0
                                for iy in rw.lo..<rw.hi {
                                    for ix in cw.lo..<cw.hi { s += pi[iy * w + ix] }
                                }
                                po[oy * ow + ox] = s / Float(rw.extent * cw.extent)
                            }
                        }
                    }
                }
            }
        }
    }

    package func avgPool2dBackward(_ dy: StridedView, _ g: Pool2dGeometry, into dx: Storage) {
        let rows = g.rowWindows, cols = g.columnWindows
        let (h, w, oh, ow) = (g.height, g.width, g.outHeight, g.outWidth)
        let src = dy.start, dst = dx.pointer
        rows.withUnsafeBufferPointer { rows in
            cols.withUnsafeBufferPointer { cols in
                parallelChunks(g.planes, work: g.planes * h * w) { planes in
                    for plane in planes {
                        let pd = dst + plane * h * w, pg = src + plane * oh * ow
                        pd.update(repeating: 0, count: h * w)
                        for oy in 0..<oh {
                            let rw = rows[oy]
                            for ox in 0..<ow {
                                let cw = cols[ox]
                                let v = pg[oy * ow + ox] / Float(rw.extent * cw.extent)
                                for iy in rw.lo..<rw.hi {
                                    for ix in cw.lo..<cw.hi { pd[iy * w + ix] += v }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
