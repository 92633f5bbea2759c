@testable import KilnCompute
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct VectorMathTests {
    @Test func vexpMatchesLibmOverItsRange() {
        // 16 lanes at a time over [-87.5, 88]: relative error against exp in Double.
        var worst = 0.0, worstX: Float = 0
        var x: Float = -87.5
        while x < 88 {
            let v = SIMD16<Float>((0..<16).map { x + Float($0) * 0.000_37 })
            let e = vexp(v)
            for i in 0..<16 where v[i] <= 88 {
                let reference = exp(Double(v[i]))
                let error = Swift.abs(Double(e[i]) - reference) / reference
                if !(error <= worst) { worst = error; worstX = v[i] }
            }
            x += 0.0131
        }
        #expect(worst < 1e-6, "largest relative error \(worst) at x = \(worstX)")
        // Around 0 (where most softmax inputs are) it is within a couple of ulps.
        var nearZero = 0.0
        for i in -2000...2000 {
            let v = Float(i) * 0.001
            let reference = exp(Double(v))
            nearZero = Swift.max(nearZero, Swift.abs(Double(sexp(v)) - reference) / reference)
        }
        #expect(nearZero < 2.5e-7, "largest relative error near 0: \(nearZero)")
    }

    @Test func vexpSpecialValues() {
        #expect(sexp(0) == 1)
        #expect(sexp(-87.6) == 0)
        #expect(sexp(-100) == 0)
        #expect(sexp(-.infinity) == 0)
        #expect(sexp(-87.5) > 0)  // 1.0e-38: subnormal, but not flushed
        #expect(sexp(88).isFinite && sexp(88) > 1e38)
        // Tail and vector agree lane by lane.
        let v = SIMD16<Float>((0..<16).map { Float($0) * 0.7 - 5 })
        let e = vexp(v)
        for i in 0..<16 { #expect(e[i] == sexp(v[i])) }
    }

    @Test func rowMaxPropagatesNaN() {
        for values: [Float] in [[.nan, 1, 2], [1, .nan, 2], [1, 2, .nan], [.nan, .nan]] {
            values.withUnsafeBufferPointer { #expect(rowMax($0.baseAddress!, values.count, stride: 1).isNaN, "\(values)") }
        }
    }

    @Test func rowHelpers() {
        let values: [Float] = (0..<53).map { Float(($0 * 37) % 53) * 0.25 - 3 }
        values.withUnsafeBufferPointer { p in
            let base = p.baseAddress!
            #expect(rowSum(base, 53, stride: 1) == values.reduce(0, +) || Swift.abs(rowSum(base, 53, stride: 1) - values.reduce(0, +)) < 1e-4)
            let everyThird = stride(from: 0, to: 53, by: 3).map { values[$0] }
            #expect(rowSum(base, everyThird.count, stride: 3) == everyThird.reduce(0, +))
            #expect(rowMax(base, 53, stride: 1) == values.max())
            #expect(rowMax(base, everyThird.count, stride: 3) == everyThird.max())
            #expect(rowMax(base, 0, stride: 1) == -.infinity)

            var out = [Float](repeating: 0, count: 53)
            let shift = values.max()!
            let sum = out.withUnsafeMutableBufferPointer { expShiftedSum(base, $0.baseAddress!, 53, shift: shift) }
            let reference = values.map { exp(Double($0 - shift)) }
            #expect(Swift.abs(Double(sum) - reference.reduce(0, +)) < 1e-5)
            for i in 0..<53 { #expect(Swift.abs(Double(out[i]) - reference[i]) <= 1e-6 * reference[i]) }
        }
    }
}
