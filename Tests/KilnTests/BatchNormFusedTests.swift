import Kiln
import KilnCompute
import Testing

/// `batchNorm(…, adding:, relu:)` — normalisation, residual and ReLU in one pass — against the three
/// ops applied one after another, forward and backward, in training and evaluation; the running
/// statistics must be updated exactly as by the plain op.
@Suite struct BatchNormFusedTests {
    @Test(arguments: [(true, true), (false, true), (true, false)])
    func fusedMatchesComposed(residualGiven: Bool, relu: Bool) {
        for training in [true, false] {
            let shape = [3, 4, 5, 6], c = 4
            let x0 = random(shape, seed: 21, in: -2...2), r0 = random(shape, seed: 22, in: -1...1)
            let w0 = random([c], seed: 23) + 1.5, b0 = random([c], seed: 24)
            let dy = random(shape, seed: 25)
            let rm0 = random([c], seed: 26), rv0 = random([c], seed: 27, in: 0.5...2)

            let x = x0.requiringGrad(), w = w0.requiringGrad(), b = b0.requiringGrad(), r = r0.requiringGrad()
            let rm = Tensor(rm0.scalars), rv = Tensor(rv0.scalars)
            let y = batchNorm(x, weight: w, bias: b, runningMean: rm, runningVar: rv, training: training,
                              adding: residualGiven ? r : nil, relu: relu)
            (y * dy).sum().backward()

            let xc = x0.requiringGrad(), wc = w0.requiringGrad(), bc = b0.requiringGrad(), rc = r0.requiringGrad()
            let rmc = Tensor(rm0.scalars), rvc = Tensor(rv0.scalars)
            var yc = batchNorm(xc, weight: wc, bias: bc, runningMean: rmc, runningVar: rvc, training: training)
            if residualGiven { yc = yc + rc }
            if relu { yc = yc.relu() }
            (yc * dy).sum().backward()

            let label = "residual \(residualGiven) relu \(relu) training \(training)"
            expectClose(y.scalars, yc.scalars, atol: 1e-6, rtol: 1e-5, "y, \(label)")
            expectClose(x.grad!.scalars, xc.grad!.scalars, atol: 1e-5, rtol: 1e-4, "dx, \(label)")
            expectClose(w.grad!.scalars, wc.grad!.scalars, atol: 1e-5, rtol: 1e-4, "dw, \(label)")
            expectClose(b.grad!.scalars, bc.grad!.scalars, atol: 1e-5, rtol: 1e-4, "db, \(label)")
            if residualGiven { expectClose(r.grad!.scalars, rc.grad!.scalars, "dresidual, \(label)") }
            #expect(rm.scalars == rmc.scalars && rv.scalars == rvc.scalars, "running statistics, \(label)")
        }
    }

    @Test func fusedGradientsMatchNumericalOnes() {
        // Inputs kept away from the ReLU's kink so central differences do not straddle it.
        gradCheck([random([2, 3, 2, 3], seed: 31, in: -2...2), random([3], seed: 32) + 1.5,
                   random([3], seed: 33), awayFromZero([2, 3, 2, 3], seed: 34, gap: 0.5) * 3],
                  eps: 1e-3, atol: 2e-3, rtol: 1e-2, "batchNorm + residual + relu") { t in
            batchNorm(t[0], weight: t[1], bias: t[2], runningMean: nil, runningVar: nil, training: true,
                      adding: t[3], relu: true)
        }
    }
}
