import KilnCompute
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct RecurrentKernelTests {
    /// The cells' tanh (a rational approximation) against libm's, in Double, on a dense grid that
    /// covers the clamp, the region near 0 where an exp-based form cancels, and large inputs.
    @Test func vtanhIsAccurateEverywhere() {
        var xs: [Float] = stride(from: -12, through: 12, by: 0.001).map { Float($0) }
        xs += (-80...10).map { Float(pow(2.0, Double($0) / 4)) }.flatMap { [$0, -$0] }
        xs += [0, -0, 7.905_311, 7.906, 40, -1e30, .infinity, -.infinity]
        var worst = 0.0
        var i = 0
        while i < xs.count {
            var v = SIMD16<Float>()
            for l in 0..<16 { v[l] = xs[min(i + l, xs.count - 1)] }
            let t = vtanh(v), s = vtanh(0.5 * v) * 0.5 + 0.5
            for l in 0..<16 where i + l < xs.count {
                let x = Double(v[l]), exact = libmTanh(x)
                let relative = Swift.abs(Double(t[l]) - exact) / Swift.max(Swift.abs(exact), 1e-300)
                worst = Swift.max(worst, exact == 0 ? Swift.abs(Double(t[l])) : relative)
                let sigmoid = 1 / (1 + libmExp(-x))
                #expect(Swift.abs(Double(s[l]) - sigmoid) < 2.5e-7, "sigmoid(\(x))")
            }
            i += 16
        }
        #expect(worst < 5e-7, "worst relative error of vtanh: \(worst)")
        #expect(vtanh(SIMD16(repeating: .nan))[0].isNaN)
    }
}

@inline(__always) private func libmTanh(_ x: Double) -> Double { tanh(x) }
@inline(__always) private func libmExp(_ x: Double) -> Double { exp(x) }
