import KilnCompute

extension Checker {
    /// Mean and standard deviation.
    private func moments(_ v: [Float]) -> (mean: Double, std: Double) {
        let n = Double(v.count)
        let mean = v.reduce(0.0) { $0 + Double($1) } / n
        let variance = v.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
        return (mean, variance.squareRoot())
    }

    /// The device stream is not the CPU's, so these check the distributions (to 5 standard errors)
    /// and that a seed fixes the values.
    func checkRandom() {
        let count = 100_003
        let n = Double(count)
        for p: Float in [0.1, 0.5] {
            let mask = gpu.allocate(count)
            gpu.dropoutMask(count: count, p: p, generator: RandomGenerator(seed: 7), into: mask)
            let first = device(mask, count)
            let keep = 1 / (1 - p)
            let strays = first.filter { $0 != 0 && $0 != keep }.count
            require("dropoutMask p \(p): every value is 0 or 1/(1−p)", strays == 0, "\(strays) other values")
            let dropped = Double(first.filter { $0 == 0 }.count) / n
            let q = Double(p)
            expect("dropoutMask p \(p): fraction dropped", dropped, near: q, within: 5 * (q * (1 - q) / n).squareRoot())
            gpu.dropoutMask(count: count, p: p, generator: RandomGenerator(seed: 7), into: mask)
            require("dropoutMask p \(p): the same seed gives the same mask", device(mask, count) == first)
            let generator = RandomGenerator(seed: 7)
            gpu.dropoutMask(count: count, p: p, generator: generator, into: mask)
            gpu.dropoutMask(count: count, p: p, generator: generator, into: mask)
            require("dropoutMask p \(p): the next draw differs", device(mask, count) != first)
        }

        let uniform = gpu.allocate(count)
        gpu.fillUniform(uniform, count: count, low: -2, high: 3, generator: RandomGenerator(seed: 11))
        let u = device(uniform, count)
        require("fillUniform: every value in [−2, 3)", u.allSatisfy { $0 >= -2 && $0 < 3 })
        let (uMean, uStd) = moments(u)
        let uSigma = 5 / 12.0.squareRoot()
        expect("fillUniform: mean", uMean, near: 0.5, within: 5 * uSigma / n.squareRoot())
        expect("fillUniform: standard deviation", uStd, near: uSigma, within: 0.01)

        let normal = gpu.allocate(count)
        gpu.fillNormal(normal, count: count, mean: 1, std: 2, generator: RandomGenerator(seed: 13))
        let z = device(normal, count)
        let (zMean, zStd) = moments(z)
        expect("fillNormal: mean", zMean, near: 1, within: 5 * 2 / n.squareRoot())
        expect("fillNormal: standard deviation", zStd, near: 2, within: 0.03)
        // P(|z − μ| > 2σ) = 0.0455.
        let tails = Double(z.filter { abs($0 - 1) > 4 }.count) / n
        expect("fillNormal: fraction beyond 2σ", tails, near: 0.0455, within: 5 * (0.0455 * 0.9545 / n).squareRoot())
        gpu.fillNormal(normal, count: count, mean: 1, std: 2, generator: RandomGenerator(seed: 13))
        require("fillNormal: the same seed gives the same values", device(normal, count) == z)
    }
}
