#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import KilnCompute

@Suite struct VectorErfTests {
    @Test func verfMatchesLibm() {
        var worst: Float = 0
        var x: Float = -6
        while x <= 6 {
            let v = verf(SIMD16(repeating: x))[0]
            worst = Swift.max(worst, Swift.abs(v - erff(x)))
            x += 0.001
        }
        #expect(worst < 5e-7, "largest |verf − erf| = \(worst)")
        #expect(verf(SIMD16(repeating: 0))[0] == 0)
    }

    @Test func geluAndItsDerivativeMatchTheExactFormulas() {
        for x in stride(from: Float(-8), through: 8, by: 0.01) {
            let exact = Double(x) * 0.5 * (1 + erf(Double(x) / 2.0.squareRoot()))
            #expect(Swift.abs(Double(vgelu(SIMD16(repeating: x))[0]) - exact) < 2e-6)
            let cdf = 0.5 * (1 + erf(Double(x) / 2.0.squareRoot()))
            let pdf = exp(-0.5 * Double(x) * Double(x)) / (2 * Double.pi).squareRoot()
            #expect(Swift.abs(Double(vgeluDerivative(SIMD16(repeating: x))[0]) - (cdf + Double(x) * pdf)) < 2e-6)
        }
    }
}
