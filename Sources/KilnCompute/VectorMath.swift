// Vector versions of the transcendental functions the kernels need. Scalar `expf` runs at about
// 1.5 GB/s here; these run on SIMD16 lanes at several times that.

/// e^x on 16 lanes (Cephes polynomial, ~1 ulp on [-87, 88]); 0 below -87.5, clamped above 88.
@inline(__always)
package func vexp(_ v: SIMD16<Float>) -> SIMD16<Float> {
    // NOTE: clamp with `replacing(with:where:)`; `pointwiseMin/Max` compile to scalar code here.
    var x = v.replacing(with: 88, where: v .> 88)
    x = x.replacing(with: -87.5, where: x .< -87.5)
    let magic = SIMD16<Float>(repeating: 12_582_912)  // 1.5 * 2^23: adding it rounds to an integer
    let t = x * 1.442_695_04 + magic
    let n = t - magic
    var r = x - n * 0.693_359_375
    r = r - n * -2.121_944_4e-4
    var p = SIMD16<Float>(repeating: 1.987_569_15e-4)
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_9e-3
    p = p * r + 4.166_579_59e-2
    p = p * r + 1.666_666_55e-1
    p = p * r + 5.000_000_1e-1
    let e = p * (r * r) + r + 1
    // 2^n: the low mantissa bits of t hold n; shift them into the exponent field.
    let bits = (unsafeBitCast(t, to: SIMD16<Int32>.self) &<< 23) &+ SIMD16<Int32>(repeating: 127 << 23)
    let result = e * unsafeBitCast(bits, to: SIMD16<Float>.self)
    return result.replacing(with: 0, where: v .< -87.5)
}

/// e^x for one float, by the same polynomial as `vexp` (so vector and tail agree exactly).
@inline(__always)
package func sexp(_ x: Float) -> Float { vexp(SIMD16(repeating: x))[0] }

/// `out[i] = exp(x[i] - shift)` for `n` dense elements; returns their sum.
@inline(__always)
package func expShiftedSum(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int,
                           shift: Float) -> Float {
    var acc = SIMD16<Float>()
    var i = 0
    while i + 16 <= n {
        let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
        let e = vexp(v - shift)
        UnsafeMutableRawPointer(out + i).storeBytes(of: e, as: SIMD16<Float>.self)
        acc += e
        i += 16
    }
    var sum = acc.sum()
    while i < n {
        let e = sexp(x[i] - shift)
        out[i] = e
        sum += e
        i += 1
    }
    return sum
}

/// Sum of `n` elements at `stride` (SIMD accumulators when dense).
@inline(__always)
package func rowSum(_ p: UnsafePointer<Float>, _ n: Int, stride: Int) -> Float {
    if stride != 1 {
        var s: Float = 0
        for i in 0..<n { s += p[i * stride] }
        return s
    }
    var acc = SIMD16<Float>()
    var i = 0
    while i + 16 <= n {
        acc += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self)
        i += 16
    }
    var s = acc.sum()
    while i < n { s += p[i]; i += 1 }
    return s
}

/// Largest of `n` elements at `stride`; NaN if any is NaN (as `max` in PyTorch).
@inline(__always)
package func rowMax(_ p: UnsafePointer<Float>, _ n: Int, stride: Int) -> Float {
    var m = -Float.infinity
    for i in 0..<n {
        let v = p[i * stride]
        m = v > m || v.isNaN ? v : m
    }
    return m
}

/// erf(x) on 16 lanes (Abramowitz & Stegun 7.1.26 with the vector `exp`; |error| < 5e-7 in float).
@inline(__always)
package func verf(_ x: SIMD16<Float>) -> SIMD16<Float> { verf(x, expOfMinusSquare: vexp(-(x * x))) }

/// erf(x) given `e` = e^(−x²) (callers that also need that exponential compute it once).
@inline(__always)
package func verf(_ x: SIMD16<Float>, expOfMinusSquare e: SIMD16<Float>) -> SIMD16<Float> {
    let negative = x .< 0
    let a = x.replacing(with: -x, where: negative)
    let t = 1 / (a * 0.327_591_1 + 1)
    var p = SIMD16<Float>(repeating: 1.061_405_429)
    p = p * t - 1.453_152_027
    p = p * t + 1.421_413_741
    p = p * t - 0.284_496_736
    p = p * t + 0.254_829_592
    let y = 1 - p * t * e
    return y.replacing(with: -y, where: negative)
}

/// GELU `x·Φ(x)` on 16 lanes.
@inline(__always)
package func vgelu(_ x: SIMD16<Float>) -> SIMD16<Float> {
    x * 0.5 * (1 + verf(x * 0.707_106_77))
}

/// d/dx GELU = Φ(x) + x·φ(x) on 16 lanes.
@inline(__always)
package func vgeluDerivative(_ x: SIMD16<Float>) -> SIMD16<Float> {
    // e^(−x²/2) is both φ's exponential and erf's e^(−(x/√2)²).
    let e = vexp(-0.5 * x * x)
    let cdf = 0.5 * (1 + verf(x * 0.707_106_77, expOfMinusSquare: e))
    return cdf + x * (0.398_942_28 * e)
}
