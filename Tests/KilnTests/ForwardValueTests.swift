import Kiln
import KilnCompute
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Forward results against naive references and hand-computed values.
@Suite struct ForwardValueTests {
    /// `a·b` for row-major `[m, k]`, `[k, n]` arrays by the reference kernel.
    private func reference(_ a: Tensor, _ b: Tensor) -> [Float] {
        ReferenceKernels.matmul(a.scalars, b.scalars, m: a.shape[0], k: a.shape[1], n: b.shape[1])
    }

    @Test func matmulMatchesReference() {
        let a = random([5, 7], seed: 1), b = random([7, 3], seed: 2)
        expectClose(a.matmul(b).scalars, reference(a, b), "plain")
        // Transposed and sliced views: the values seen through the view are what count.
        let at = random([7, 5], seed: 3).transposed(), bs = random([7, 6], seed: 4).narrowed(axis: 1, start: 2, length: 3)
        expectClose(at.matmul(bs).scalars, reference(at, bs), "transposed · sliced")
        let bt = random([3, 7], seed: 5).transposed()
        expectClose(a.matmul(bt).scalars, reference(a, bt), "plain · transposed")
        // Large enough for OpenBLAS's blocked kernels.
        let c = random([67, 129], seed: 6), d = random([129, 33], seed: 7)
        expectClose(c.matmul(d).scalars, reference(c, d), atol: 1e-5, "67×129·129×33")
    }

    @Test func batchedMatmulMatchesReferencePerMatrix() {
        let a = random([3, 2, 4, 5], seed: 8), b = random([2, 5, 6], seed: 9)
        let c = a.matmul(b)
        #expect(c.shape == [3, 2, 4, 6])
        for i in 0..<3 {
            for j in 0..<2 {
                expectClose(c[i][j].scalars, reference(a[i][j], b[j]), "batch (\(i), \(j))")
            }
        }
        // Broadcast of a size-1 batch axis that sits after a larger one.
        let e = random([2, 1, 3, 4], seed: 10), f = random([3, 4, 2], seed: 11)
        let g = e.matmul(f)
        #expect(g.shape == [2, 3, 3, 2])
        for i in 0..<2 {
            for j in 0..<3 { expectClose(g[i][j].scalars, reference(e[i][0], f[j]), "broadcast batch (\(i), \(j))") }
        }
    }

    @Test func softmaxMatchesReference() {
        let x = random([6, 37], seed: 12, in: -5...5)
        expectClose(x.softmax().scalars, ReferenceKernels.softmax(x.scalars, rows: 6, cols: 37), atol: 1e-7, rtol: 1e-5, "softmax")
        let logs = ReferenceKernels.softmax(x.scalars, rows: 6, cols: 37).map { Float(log(Double($0))) }
        expectClose(x.logSoftmax().scalars, logs, atol: 1e-5, "logSoftmax")
        // Along axis 0: the reference on the transposed matrix, transposed back.
        let t = x.transposed().contiguous()
        let ref = Tensor(ReferenceKernels.softmax(t.scalars, rows: 37, cols: 6), shape: [37, 6]).transposed()
        expectClose(x.softmax(axis: 0).scalars, ref.scalars, atol: 1e-7, rtol: 1e-5, "softmax axis 0")
        // Huge logits stay finite (the row maximum is subtracted first).
        let big = Tensor([1000, 1001, 999], shape: [1, 3])
        expectClose(big.softmax().scalars, ReferenceKernels.softmax([0, 1, -1], rows: 1, cols: 3), "shifted")
    }

    @Test func broadcastArithmeticByHand() {
        let col = Tensor([1, 2], shape: [2, 1]), row = Tensor([10, 20, 30])
        let s = col + row
        #expect(s.shape == [2, 3])
        #expect(s.scalars == [11, 21, 31, 12, 22, 32])
        #expect((row - col).scalars == [9, 19, 29, 8, 18, 28])
        #expect((col * row).scalars == [10, 20, 30, 20, 40, 60])
        #expect((row / col).scalars == [10, 20, 30, 5, 10, 15])
        #expect((10 - row).scalars == [0, -10, -20])
        #expect((60 / row).scalars == [6, 3, 2])
        #expect((Tensor(scalar: 2) * row).scalars == [20, 40, 60])
        #expect(maximum(col, Tensor([0, 1.5, 3])).scalars == [1, 1.5, 3, 2, 2, 3])
        #expect(minimum(col, Tensor([0, 1.5, 3])).scalars == [0, 1, 1, 0, 1.5, 2])
    }

    @Test func comparisons() {
        let a = Tensor([1, 2, 3]), b = Tensor([3, 2, 1])
        #expect((a .== b).scalars == [0, 1, 0])
        #expect((a .!= b).scalars == [1, 0, 1])
        #expect((a .< b).scalars == [1, 0, 0])
        #expect((a .<= b).scalars == [1, 1, 0])
        #expect((a .> b).scalars == [0, 0, 1])
        #expect((a .>= b).scalars == [0, 1, 1])
        #expect((a .== 2).scalars == [0, 1, 0])
        #expect((a .> 1).scalars == [0, 1, 1])
        #expect((a .< 3).scalars == [1, 1, 0])
        #expect(!(a .< b).requiresGrad && !(a.requiringGrad() .< b).requiresGrad)
    }

    @Test func sumsAlongAxesByHand() {
        let x = Tensor.arange(0, 24).reshaped([2, 3, 4])
        #expect(x.sum().item == 276)
        #expect(x.sum(axis: 0).scalars == [12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34])
        #expect(x.sum(axis: 1).scalars == [12, 15, 18, 21, 48, 51, 54, 57])
        #expect(x.sum(axis: -1).scalars == [6, 22, 38, 54, 70, 86])
        #expect(x.sum(axes: [0, 2]).scalars == [60, 92, 124])
        #expect(x.sum(axes: [0, 2], keepDims: true).shape == [1, 3, 1])
        #expect(x.sum(axis: 1).shape == [2, 4])
        #expect(x.sum(axes: [2, -1]).shape == [2, 3])  // repeated axes count once
        #expect(x.mean(axis: 2).scalars == [1.5, 5.5, 9.5, 13.5, 17.5, 21.5])
        #expect(x.mean().item == 11.5)
        #expect(x.max(axis: 1).scalars == [8, 9, 10, 11, 20, 21, 22, 23])
        #expect(x.min(axes: [1, 2]).scalars == [0, 12])
        #expect(x.max().item == 23)
        #expect((-x).min(axis: 0, keepDims: true).shape == [1, 3, 4])
        // The same on a transposed view.
        let t = x.transposed(0, 2)  // [4, 3, 2]
        #expect(t.sum(axis: 2).scalars == x.sum(axis: 0).transposed().scalars)
        #expect(t.max(axis: 0).scalars == x.max(axis: 2).transposed().scalars)
    }

    @Test func argmaxTakesTheFirstOfTies() {
        let x = Tensor([1, 3, 3, 5, 5, 0, 0, 0, 0, -1, 2, 2], shape: [4, 3])
        #expect(x.argmax(axis: 1).scalars == [1, 0, 0, 1])
        #expect(x.argmax(axis: 0).scalars == [1, 1, 0])
        #expect(x.argmax(axis: -1, keepDims: true).shape == [4, 1])
        #expect(x.transposed().argmax(axis: 0).scalars == [1, 0, 0, 1])
        let y = Tensor([2, 7, 7, 1, 9, 9, 9, 0], shape: [2, 2, 2])
        #expect(y.argmax(axis: 1).scalars == [1, 0, 0, 0])
        #expect(Tensor([4, 4, 4]).argmax(axis: 0).item == 0)
    }

    @Test func varianceByHand() {
        let x = Tensor([1, 2, 3, 4])
        #expect(Swift.abs(x.variance(correction: 0).item - 1.25) < 1e-6)
        #expect(Swift.abs(x.variance().item - 5.0 / 3) < 1e-6)
        let m = Tensor([1, 2, 3, 4, 6, 8], shape: [2, 3])
        expectClose(m.variance(axes: [1], correction: 0).scalars, [2.0 / 3, 8.0 / 3], "rows, correction 0")
        expectClose(m.variance(axes: [1]).scalars, [1, 4], "rows, correction 1")
        expectClose(m.variance(axes: [0]).scalars, [4.5, 8, 12.5], "columns")
        #expect(m.variance(axes: [0], keepDims: true).shape == [1, 3])
    }

    @Test func crossEntropyByHand() {
        let logits: [[Double]] = [[1, 2, 3, 0.5], [0.5, -1, 2, 0], [3, 3, -2, 1]]
        let labels: [Int32] = [2, 0, 1]
        let x = Tensor(logits.flatMap { $0.map(Float.init) }, shape: [3, 4])
        func lse(_ row: [Double]) -> Double { log(row.map(exp).reduce(0, +)) }
        let nll = zip(logits, labels).map { lse($0) - $0[Int($1)] }
        let expected = nll.reduce(0, +) / 3
        #expect(Swift.abs(Double(crossEntropy(x, labels: labels).item) - expected) < 1e-6)
        // Equal to the composed version: mean of −log_softmax at the labels.
        let composed = -x.logSoftmax().gather(labels).mean()
        #expect(Swift.abs(composed.item - crossEntropy(x, labels: labels).item) < 1e-6)

        // Label smoothing, PyTorch's formula: (1 − ε)·nll + ε/C · Σ_c (−log p_c).
        let eps = 0.2
        let smooth = zip(logits, nll).map { row, n in
            (1 - eps) * n + eps / 4 * row.map { lse(row) - $0 }.reduce(0, +)
        }.reduce(0, +) / 3
        #expect(Swift.abs(Double(crossEntropy(x, labels: labels, labelSmoothing: Float(eps)).item) - smooth) < 1e-6)
    }

    @Test func crossEntropyGradientByHand() {
        // d/dlogits = (softmax − target) / n, target = (1 − ε)·onehot + ε/C.
        let x = Tensor([1, 2, 3, 0, 0, 0], shape: [2, 3]).requiringGrad()
        crossEntropy(x, labels: [0, 2], labelSmoothing: 0.3).backward()
        let p = ReferenceKernels.softmax([1, 2, 3, 0, 0, 0], rows: 2, cols: 3)
        let target: [Float] = [0.8, 0.1, 0.1, 0.1, 0.1, 0.8]
        expectClose(x.grad!.scalars, zip(p, target).map { ($0 - $1) / 2 }, "gradient")
    }

    @Test func creation() {
        #expect(Tensor.zeros([2, 2]).scalars == [0, 0, 0, 0])
        #expect(Tensor.ones([3]).scalars == [1, 1, 1])
        #expect(Tensor.full([2], 7).scalars == [7, 7])
        #expect(Tensor.arange(0, 5).scalars == [0, 1, 2, 3, 4])
        #expect(Tensor.arange(1, 2, step: 0.25).scalars == [1, 1.25, 1.5, 1.75])
        #expect(Tensor.arange(3, 0, step: -1).scalars == [3, 2, 1])
        #expect(Tensor.oneHot([2, 0], classes: 3).scalars == [0, 0, 1, 1, 0, 0])
        #expect(Tensor(scalar: 4).shape == [] && Tensor(scalar: 4).item == 4)
        #expect(Tensor([1, 2]).zerosLike().scalars == [0, 0])
        let empty = Tensor([], shape: [0, 3])
        #expect(empty.count == 0 && empty.scalars.isEmpty)
        #expect((empty + 1).shape == [0, 3])

        let u = Tensor.uniform([1000], low: -2, high: 3, generator: RandomGenerator(seed: 1)).scalars
        #expect(u.allSatisfy { $0 >= -2 && $0 < 3 })
        #expect(Swift.abs(u.reduce(0, +) / 1000 - 0.5) < 0.2)
        let n = Tensor.normal([4000], mean: 1, std: 2, generator: RandomGenerator(seed: 2))
        #expect(Swift.abs(n.mean().item - 1) < 0.15)
        #expect(Swift.abs(n.variance().item.squareRoot() - 2) < 0.1)
        // The same seed gives the same values.
        #expect(Tensor.normal([5], generator: RandomGenerator(seed: 3)).scalars
                == Tensor.normal([5], generator: RandomGenerator(seed: 3)).scalars)
    }

    @Test func dropoutForward() {
        let x = Tensor.ones([100, 100])
        let y = x.dropout(p: 0.3, generator: RandomGenerator(seed: 4)).scalars
        let kept = y.filter { $0 != 0 }
        #expect(kept.allSatisfy { Swift.abs($0 - 1 / 0.7) < 1e-6 })
        #expect(Swift.abs(Double(y.count - kept.count) / 10_000 - 0.3) < 0.02)
        #expect(x.dropout(p: 0).sharesStorage(with: x))
    }
}
