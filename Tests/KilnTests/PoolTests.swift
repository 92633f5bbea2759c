import Kiln
import KilnCompute
import Testing

/// Pooling: forward values against naive loops, gradient checks, and the multi-threaded path.
@Suite struct PoolTests {
    /// Distinct values 0.1 apart in random order: no two elements of a window tie, even after a
    /// finite-difference step, so max pooling is differentiable at them.
    private func distinct(_ shape: [Int], seed: UInt64) -> Tensor {
        let n = shape.reduce(1, *)
        let keys = random([n], seed: seed).scalars
        let order = keys.indices.sorted { keys[$0] < keys[$1] }
        var values = [Float](repeating: 0, count: n)
        for (rank, i) in order.enumerated() { values[i] = Float(rank) * 0.1 - Float(n) * 0.05 }
        return Tensor(values, shape: shape)
    }

    /// Naive pooling of `[N, C, H, W]` with PyTorch's window rules; `average` uses
    /// `count_include_pad`, adaptive bins when `adaptive` is given.
    private func naive(_ x: Tensor, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int),
                       average: Bool, adaptive: (Int, Int)? = nil) -> [Float] {
        let (n, h, w) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3])
        let oh = adaptive?.0 ?? (h + 2 * padding.0 - kernel.0) / stride.0 + 1
        let ow = adaptive?.1 ?? (w + 2 * padding.1 - kernel.1) / stride.1 + 1
        let xs = x.scalars
        var out: [Float] = []
        for p in 0..<n {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var y0: Int, y1: Int, x0: Int, x1: Int, divisor: Int
                    if let a = adaptive {
                        y0 = oy * h / a.0; y1 = ((oy + 1) * h + a.0 - 1) / a.0
                        x0 = ox * w / a.1; x1 = ((ox + 1) * w + a.1 - 1) / a.1
                        divisor = (y1 - y0) * (x1 - x0)
                    } else {
                        y0 = oy * stride.0 - padding.0; y1 = Swift.min(y0 + kernel.0, h + padding.0)
                        x0 = ox * stride.1 - padding.1; x1 = Swift.min(x0 + kernel.1, w + padding.1)
                        divisor = (y1 - y0) * (x1 - x0)
                    }
                    var best = -Float.infinity, sum = 0.0
                    for iy in Swift.max(y0, 0)..<Swift.min(y1, h) {
                        for ix in Swift.max(x0, 0)..<Swift.min(x1, w) {
                            let v = xs[(p * h + iy) * w + ix]
                            best = Swift.max(best, v)
                            sum += Double(v)
                        }
                    }
                    out.append(average ? Float(sum / Double(divisor)) : best)
                }
            }
        }
        return out
    }

    @Test func maxPoolMatchesNaiveLoops() {
        let x = random([2, 3, 7, 6], seed: 1)
        for (k, s, p) in [((2, 2), (2, 2), (0, 0)), ((3, 3), (2, 2), (1, 1)), ((3, 2), (1, 2), (1, 0)), ((1, 1), (2, 2), (0, 0))] {
            let y = maxPool2d(x, kernelSize: k, stride: s, padding: p)
            expectClose(y.scalars, naive(x, kernel: k, stride: s, padding: p, average: false), "max \(k) \(s) \(p)")
        }
        // Default stride = kernel size; odd sizes drop the last row/column (floor mode).
        #expect(maxPool2d(x, kernelSize: (2, 2)).shape == [2, 3, 3, 3])
        #expect(maxPool2d(x[0], kernelSize: (2, 2)).shape == [3, 3, 3])
    }

    @Test func maxPoolGradientGoesToTheMaximum() {
        let x = Tensor([1, 5, 2, 0, 3, 4, 9, 8, 7, 6, 1, 1, 2, 2, 3, 3], shape: [1, 1, 4, 4]).requiringGrad()
        maxPool2d(x, kernelSize: (2, 2)).sum().backward()
        // The bottom-right window ties (3, 3): the first one wins, as in PyTorch.
        #expect(x.grad!.scalars == [0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0])
        // Overlapping windows add their gradients at a shared maximum.
        let z = Tensor([0, 0, 0, 0, 9, 0, 0, 0, 0], shape: [1, 1, 3, 3]).requiringGrad()
        maxPool2d(z, kernelSize: (2, 2), stride: (1, 1)).sum().backward()
        #expect(z.grad!.scalars == [0, 0, 0, 0, 4, 0, 0, 0, 0])
    }

    /// The 2×2 kernel runs four outputs at a time: values and the routing of the gradient (to the
    /// first maximum of each window, NaN winning) against naive loops, over rows with a tail.
    @Test func maxPool2x2VectorPath() {
        var values = random([2, 2, 10, 22], seed: 11).scalars.map { ($0 * 4).rounded() / 4 }   // many ties
        values[5] = .nan
        let x = Tensor(values, shape: [2, 2, 10, 22]).requiringGrad()
        let y = maxPool2d(x, kernelSize: (2, 2))
        #expect(y.shape == [2, 2, 5, 11])
        let g = random(y.shape, seed: 12)
        (y * g).sum().backward()
        var expectedY: [Float] = [], expectedDx = [Float](repeating: 0, count: values.count)
        let gs = g.scalars
        for plane in 0..<4 {
            for oy in 0..<5 {
                for ox in 0..<11 {
                    var best = -Float.infinity, at = -1
                    for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                        let i = plane * 220 + (2 * oy + dy) * 22 + 2 * ox + dx
                        if at < 0 || values[i] > best || values[i].isNaN { best = values[i]; at = i }
                    }
                    expectedY.append(best)
                    expectedDx[at] += gs[expectedY.count - 1]
                }
            }
        }
        #expect(y.scalars[0].isNaN || y.scalars[2].isNaN, "a NaN in the window wins")
        let finite = zip(y.scalars, expectedY).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }
        #expect(finite, "2×2 values")
        #expect(x.grad!.scalars == expectedDx, "2×2 routing")
    }

    @Test func maxPoolGradients() {
        gradCheck([distinct([2, 2, 6, 5], seed: 2)], "maxPool2d 2×2") { maxPool2d($0[0], kernelSize: (2, 2)) }
        gradCheck([distinct([1, 2, 5, 6], seed: 3)], "maxPool2d 3×3 stride 2 padding 1") {
            maxPool2d($0[0], kernelSize: (3, 3), stride: (2, 2), padding: (1, 1))
        }
    }

    @Test func avgPoolMatchesNaiveLoops() {
        let x = random([2, 3, 7, 6], seed: 4)
        for (k, s, p) in [((2, 2), (2, 2), (0, 0)), ((3, 3), (2, 2), (1, 1)), ((3, 2), (1, 2), (1, 1)), ((4, 4), (3, 3), (2, 2))] {
            let y = avgPool2d(x, kernelSize: k, stride: s, padding: p)
            expectClose(y.scalars, naive(x, kernel: k, stride: s, padding: p, average: true), "avg \(k) \(s) \(p)")
        }
        // count_include_pad: a corner window of 3×3 with padding 1 holds 4 real values, divides by 9.
        let ones = Tensor.ones([1, 1, 4, 4])
        #expect(avgPool2d(ones, kernelSize: (3, 3), stride: (1, 1), padding: (1, 1)).scalars[0] == Float(4) / 9)
    }

    @Test func avgPoolGradients() {
        gradCheck([random([2, 2, 5, 6], seed: 5)], "avgPool2d 2×2") { avgPool2d($0[0], kernelSize: (2, 2)) }
        gradCheck([random([1, 2, 5, 5], seed: 6)], "avgPool2d 3×3 stride 2 padding 1") {
            avgPool2d($0[0], kernelSize: (3, 3), stride: (2, 2), padding: (1, 1))
        }
    }

    @Test func adaptiveAvgPoolMatchesPyTorchBins() {
        let x = random([2, 3, 5, 7], seed: 7)
        for size in [(1, 1), (2, 3), (3, 2), (5, 7), (4, 5)] {
            expectClose(adaptiveAvgPool2d(x, outputSize: size).scalars,
                        naive(x, kernel: (1, 1), stride: (1, 1), padding: (0, 0), average: true, adaptive: size),
                        "adaptive \(size)")
        }
        // Global pooling is the mean over H and W.
        expectClose(adaptiveAvgPool2d(x, outputSize: (1, 1)).scalars, x.mean(axes: [2, 3]).scalars, "global")
    }

    @Test func adaptiveAvgPoolGradients() {
        gradCheck([random([2, 3, 4, 4], seed: 8)], "adaptiveAvgPool2d global") { adaptiveAvgPool2d($0[0], outputSize: (1, 1)) }
        gradCheck([random([1, 2, 5, 7], seed: 9)], "adaptiveAvgPool2d 3×2 (overlapping bins)") {
            adaptiveAvgPool2d($0[0], outputSize: (3, 2))
        }
    }

    @Test func twoThreadsMatchOne() {
        let previous = threadCount()
        defer { setThreadCount(previous) }
        let x = random([8, 16, 24, 24], seed: 10)   // 73,728 elements: above the split threshold
        func run() -> [[Float]] {
            let leaf = x.requiringGrad()
            let y = maxPool2d(leaf, kernelSize: (2, 2)) + avgPool2d(leaf, kernelSize: (3, 3), stride: (2, 2), padding: (1, 1))
                + adaptiveAvgPool2d(leaf, outputSize: (1, 1)).expanded(to: [8, 16, 12, 12])
            (y * y).sum().backward()
            return [y.scalars, leaf.grad!.scalars]
        }
        setThreadCount(1)
        let one = run()
        setThreadCount(2)
        #expect(run() == one)
    }
}
