import Kiln
import KilnCompute
import Testing

/// The fused batch-norm op against the same formula composed from tensor ops, gradient checks in
/// training and evaluation on 2-D and 4-D inputs, and the running-statistics update.
@Suite struct BatchNormTests {
    /// `(x − mean) / √(var + ε) · w + b` with batch statistics over every axis but 1, composed.
    private func composed(_ x: Tensor, _ w: Tensor, _ b: Tensor, epsilon: Float = 1e-5) -> Tensor {
        var axes = Array(0..<x.rank)
        axes.remove(at: 1)
        var statShape = [Int](repeating: 1, count: x.rank)
        statShape[1] = x.shape[1]
        let mean = x.mean(axes: axes, keepDims: true)
        let variance = x.variance(axes: axes, keepDims: true, correction: 0)
        return (x - mean) / (variance + epsilon).sqrt() * w.reshaped(statShape) + b.reshaped(statShape)
    }

    @Test(arguments: [[6, 4], [4, 3, 5], [3, 2, 4, 5]])
    func trainingForwardAndBackwardMatchTheComposedOps(_ shape: [Int]) {
        let c = shape[1]
        // Large mean, small spread: the statistics must not cancel.
        let x0 = random(shape, seed: 1) * 0.5 + 100
        let w0 = random([c], seed: 2) + 1.5, b0 = random([c], seed: 3)
        let dy = random(shape, seed: 4)
        let x = x0.requiringGrad(), w = w0.requiringGrad(), b = b0.requiringGrad()
        let y = batchNorm(x, weight: w, bias: b, runningMean: nil, runningVar: nil, training: true)
        (y * dy).sum().backward()
        // The composed reference, in Double-accurate form: shift by the mean first.
        let xc = (x0 - 100).requiringGrad(), wc = w0.requiringGrad(), bc = b0.requiringGrad()
        let yc = composed(xc, wc, bc)
        (yc * dy).sum().backward()
        expectClose(y.scalars, yc.scalars, atol: 5e-4, rtol: 1e-3, "y \(shape)")
        expectClose(x.grad!.scalars, xc.grad!.scalars, atol: 5e-3, rtol: 2e-3, "dx \(shape)")
        expectClose(w.grad!.scalars, wc.grad!.scalars, atol: 5e-4, rtol: 1e-3, "dw \(shape)")
        expectClose(b.grad!.scalars, bc.grad!.scalars, atol: 1e-5, rtol: 1e-5, "db \(shape)")
    }

    @Test func trainingGradients2D() {
        gradCheck([random([5, 3], seed: 5, in: -2...2), random([3], seed: 6) + 1.5, random([3], seed: 7)],
                  eps: 1e-3, atol: 2e-3, rtol: 1e-2, "batchNorm training [N, C]") { t in
            batchNorm(t[0], weight: t[1], bias: t[2], runningMean: nil, runningVar: nil, training: true)
        }
    }

    @Test func trainingGradients4D() {
        gradCheck([random([2, 3, 2, 3], seed: 8, in: -2...2), random([3], seed: 9) + 1.5, random([3], seed: 10)],
                  eps: 1e-3, atol: 2e-3, rtol: 1e-2, "batchNorm training [N, C, H, W]") { t in
            batchNorm(t[0], weight: t[1], bias: t[2], runningMean: nil, runningVar: nil, training: true)
        }
        // Without affine parameters.
        gradCheck([random([3, 2, 2, 2], seed: 11, in: -2...2)], eps: 1e-3, atol: 2e-3, rtol: 1e-2,
                  "batchNorm training, no affine") { t in
            batchNorm(t[0], weight: nil, bias: nil, runningMean: nil, runningVar: nil, training: true)
        }
    }

    @Test func evaluationGradients() {
        let mean = random([3], seed: 12), variance = random([3], seed: 13, in: 0.5...2)
        for shape in [[4, 3], [2, 3, 2, 2]] {
            gradCheck([random(shape, seed: 14), random([3], seed: 15) + 1.5, random([3], seed: 16)],
                      "batchNorm evaluation \(shape)") { t in
                batchNorm(t[0], weight: t[1], bias: t[2], runningMean: mean, runningVar: variance, training: false)
            }
        }
    }

    @Test func evaluationUsesTheRunningStatistics() {
        let x = random([2, 3, 2, 2], seed: 17)
        let mean = Tensor([0.5, -1, 2]), variance = Tensor([4, 0.25, 1])
        let w = Tensor([1, 2, 3]), b = Tensor([0, 1, -1])
        let y = batchNorm(x, weight: w, bias: b, runningMean: mean, runningVar: variance, training: false, epsilon: 0)
        let expected = (x - mean.reshaped([1, 3, 1, 1])) / variance.reshaped([1, 3, 1, 1]).sqrt()
            * w.reshaped([1, 3, 1, 1]) + b.reshaped([1, 3, 1, 1])
        expectClose(y.scalars, expected.scalars, atol: 1e-6, "eval")
        // Evaluation leaves the running statistics alone.
        #expect(mean.scalars == [0.5, -1, 2] && variance.scalars == [4, 0.25, 1])
    }

    @Test func trainingUpdatesTheRunningStatistics() {
        let x = random([4, 2, 3, 3], seed: 18, in: -1...3)
        let mean = Tensor([1, -1]), variance = Tensor([2, 0.5])
        _ = batchNorm(x, weight: nil, bias: nil, runningMean: mean, runningVar: variance, training: true, momentum: 0.25)
        let batchMean = x.mean(axes: [0, 2, 3])
        let unbiased = x.variance(axes: [0, 2, 3])   // correction 1, as PyTorch's running_var
        expectClose(mean.scalars, (Tensor([1, -1]) * 0.75 + batchMean * 0.25).scalars, atol: 1e-6, "running mean")
        expectClose(variance.scalars, (Tensor([2, 0.5]) * 0.75 + unbiased * 0.25).scalars, atol: 1e-6, "running var")
    }

    @Test func twoThreadsMatchOne() {
        let previous = threadCount()
        defer { setThreadCount(previous) }
        let x0 = random([8, 16, 16, 16], seed: 19), dy = random([8, 16, 16, 16], seed: 20)
        func run() -> [[Float]] {
            let x = x0.requiringGrad(), w = Tensor.ones([16]).requiringGrad(), b = Tensor.zeros([16]).requiringGrad()
            let rm = Tensor.zeros([16]), rv = Tensor.ones([16])
            let y = batchNorm(x, weight: w, bias: b, runningMean: rm, runningVar: rv, training: true)
            (y * dy).sum().backward()
            return [y.scalars, x.grad!.scalars, w.grad!.scalars, b.grad!.scalars, rm.scalars, rv.scalars]
        }
        setThreadCount(1)
        let one = run()
        setThreadCount(2)
        // Channels are split across threads; each channel is summed alike.
        #expect(run() == one)
    }
}
