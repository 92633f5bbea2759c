@testable import KilnCompute
import Testing

/// A storage holding `values`.
private func storage(_ values: [Float]) -> Storage {
    let s = Storage(count: values.count)
    for (i, v) in values.enumerated() { s.pointer[i] = v }
    return s
}

private func array(_ s: Storage, _ count: Int, from offset: Int = 0) -> [Float] {
    Array(UnsafeBufferPointer(start: s.pointer + offset, count: count))
}

/// Deterministic values in about [-1, 1].
private func values(_ n: Int, seed: Int) -> [Float] {
    (0..<n).map { Float((($0 + seed) * 7919 + seed * 104_729) % 2001) / 1000 - 1 }
}

private func expectClose(_ a: [Float], _ b: [Float], tol: Float = 1e-5, _ what: String,
                         sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.count == b.count, sourceLocation: sourceLocation)
    for (i, (x, y)) in zip(a, b).enumerated() where !(Swift.abs(x - y) <= tol * (1 + Swift.abs(y))) {
        Issue.record("\(what): element \(i) is \(x), expected \(y)", sourceLocation: sourceLocation)
        return
    }
}

/// `[rows, cols]` row-major transpose.
private func transpose(_ x: [Float], _ rows: Int, _ cols: Int) -> [Float] {
    (0..<(rows * cols)).map { i in x[(i % rows) * cols + i / rows] }
}

@Suite struct CPUBackendTests {
    let cpu = CPUBackend.shared

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func gemmMatchesReference(_ transA: Bool, _ transB: Bool) {
        let m = 5, k = 7, n = 3, batch = 3
        // Each operand: `batch` matrices at a batch stride, with padding (ld > width) and an offset.
        let aRows = transA ? k : m, aCols = transA ? m : k, lda = aCols + 2
        let bRows = transB ? n : k, bCols = transB ? k : n, ldb = bCols + 1
        let aStride = aRows * lda + 3, bStride = bRows * ldb
        let a = values(4 + batch * aStride, seed: 1), b = values(2 + batch * bStride, seed: 2)
        let cInit = values(batch * m * n, seed: 3)
        let c = storage(cInit)
        cpu.gemm(GemmProblem(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, beta: 2,
                             a: storage(a), aOffset: 4, lda: lda, aBatchStride: aStride,
                             b: storage(b), bOffset: 2, ldb: ldb, bBatchStride: bStride,
                             c: c, ldc: n, cBatchStride: m * n, batch: batch))
        for i in 0..<batch {
            let am = (0..<aRows).flatMap { r in (0..<aCols).map { a[4 + i * aStride + r * lda + $0] } }
            let bm = (0..<bRows).flatMap { r in (0..<bCols).map { b[2 + i * bStride + r * ldb + $0] } }
            let product = ReferenceKernels.matmul(transA ? transpose(am, k, m) : am, transB ? transpose(bm, n, k) : bm,
                                                  m: m, k: k, n: n)
            let expected = (0..<(m * n)).map { 0.5 * product[$0] + 2 * cInit[i * m * n + $0] }
            expectClose(array(c, m * n, from: i * m * n), expected, "batch \(i), transA \(transA), transB \(transB)")
        }
    }

    /// Large enough that the product is split across threads (with the default thread count, one
    /// per core, on a machine with several cores).
    @Test func largeGemmMatchesReference() {
        for (m, n, transA, transB) in [(200, 100, false, false), (100, 260, true, true), (131, 131, true, false)] {
            let k = 150
            let a = values(m * k, seed: 4), b = values(k * n, seed: 5)
            let c = Storage(count: m * n)
            cpu.gemm(GemmProblem(transA: transA, transB: transB, m: m, n: n, k: k,
                                 a: storage(transA ? transpose(a, m, k) : a), aOffset: 0, lda: transA ? m : k,
                                 b: storage(transB ? transpose(b, k, n) : b), bOffset: 0, ldb: transB ? k : n,
                                 c: c, ldc: n))
            expectClose(array(c, m * n), ReferenceKernels.matmul(a, b, m: m, k: k, n: n), tol: 1e-4, "\(m)×\(k)·\(k)×\(n)")
        }
    }

    @Test func softmaxKernelsMatchReference() {
        let x = values(4 * 37, seed: 6).map { $0 * 6 }
        let y = Storage(count: x.count)
        cpu.softmax(StridedView(storage(x), Layout(contiguous: [4, 37])), rows: 4, cols: 37, log: false, into: y)
        let reference = ReferenceKernels.softmax(x, rows: 4, cols: 37)
        expectClose(array(y, x.count), reference, tol: 1e-6, "softmax")
        cpu.softmax(StridedView(storage(x), Layout(contiguous: [4, 37])), rows: 4, cols: 37, log: true, into: y)
        expectClose(array(y, x.count), reference.map { Float(log(Double($0))) }, tol: 1e-5, "logSoftmax")

        // Cross-entropy writes the probabilities and returns the mean loss.
        let labels: [Int32] = [0, 36, 5, 5]
        let probs = Storage(count: x.count)
        let loss = cpu.crossEntropy(StridedView(storage(x), Layout(contiguous: [4, 37])), labels: labels,
                                    rows: 4, cols: 37, smoothing: 0, probs: probs)
        expectClose(array(probs, x.count), reference, tol: 1e-6, "crossEntropy probabilities")
        let expected = labels.enumerated().map { -log(Double(reference[$0.offset * 37 + Int($0.element)])) }.reduce(0, +) / 4
        #expect(Swift.abs(Double(loss) - expected) < 1e-5)
    }

    @Test func reduceWithStrideZeroOutput() {
        // Sum of a [2, 3] over axis 1 into a [2] output seen as [2, 3] at strides [1, 0].
        let x = StridedView(storage([1, 2, 3, 4, 5, 6]), Layout(contiguous: [2, 3]))
        let out = Storage(count: 2)
        cpu.reduce(.sum, x, into: StridedView(out, Layout(shape: [2, 3], strides: [1, 0], offset: 0)))
        #expect(array(out, 2) == [6, 15])
        cpu.reduce(.max, x, into: StridedView(out, Layout(shape: [2, 3], strides: [0, 1], offset: 0)))
        #expect(array(out, 3) == [4, 5, 6])
        cpu.reduce(.min, x, into: StridedView(out, Layout(shape: [2, 3], strides: [0, 0], offset: 0)))
        #expect(array(out, 1) == [1])
        // A transposed input.
        let t = StridedView(x.storage, Layout(shape: [3, 2], strides: [1, 3], offset: 0))
        cpu.reduce(.sum, t, into: StridedView(out, Layout(shape: [3, 2], strides: [1, 0], offset: 0)))
        #expect(array(out, 3) == [5, 7, 9])
        // NaN propagates through max and min.
        let n = StridedView(storage([1, .nan, 3]), Layout(contiguous: [3]))
        cpu.reduce(.max, n, into: StridedView(out, Layout(shape: [3], strides: [0], offset: 0)))
        #expect(out.pointer[0].isNaN)
        cpu.reduce(.min, n, into: StridedView(out, Layout(shape: [3], strides: [0], offset: 0)))
        #expect(out.pointer[0].isNaN)
    }

    @Test func argmaxFirstOnTies() {
        let x = StridedView(storage([1, 3, 3, 5, 5, 0]), Layout(contiguous: [2, 3]))
        let out = Storage(count: 3)
        cpu.argmax(x, axis: 1, into: out)
        #expect(array(out, 2) == [1, 0])
        cpu.argmax(x, axis: 0, into: out)
        #expect(array(out, 3) == [1, 1, 0])
        let n = StridedView(storage([1, .nan, 3]), Layout(contiguous: [3]))
        cpu.argmax(n, axis: 0, into: out)
        #expect(out.pointer[0] == 1)
    }

    @Test func copyAndFillStrided() {
        let src = StridedView(storage([1, 2, 3, 4, 5, 6]), Layout(shape: [3, 2], strides: [1, 3], offset: 0))
        let dst = Storage(count: 6)
        cpu.copy(src, into: StridedView(dst, Layout(contiguous: [3, 2])))
        #expect(array(dst, 6) == [1, 4, 2, 5, 3, 6])
        cpu.fill(StridedView(dst, Layout(shape: [3], strides: [2], offset: 1)), value: 0)
        #expect(array(dst, 6) == [1, 0, 2, 0, 3, 0])
        // Into a strided destination from a broadcast source.
        cpu.copy(StridedView(storage([9]), Layout(shape: [2, 2], strides: [0, 0], offset: 0)),
                 into: StridedView(dst, Layout(shape: [2, 2], strides: [3, 1], offset: 0)))
        #expect(array(dst, 6) == [9, 9, 2, 9, 9, 0])
    }

    @Test func elementwiseOnStridedAndBroadcastViews() {
        let a = StridedView(storage([1, 2, 3, 4, 5, 6]), Layout(shape: [3, 2], strides: [1, 3], offset: 0))
        let b = StridedView(storage([10, 20]), Layout(shape: [3, 2], strides: [0, 1], offset: 0))
        let out = Storage(count: 6)
        cpu.binary(.add, a, b, into: out)
        #expect(array(out, 6) == [11, 24, 12, 25, 13, 26])
        cpu.binary(.sub, b, a, into: out)
        #expect(array(out, 6) == [9, 16, 8, 15, 7, 14])
        cpu.binary(.pow, a, scalar: 2, scalarFirst: true, into: out)
        #expect(array(out, 6) == [2, 16, 4, 32, 8, 64])
        cpu.binary(.pow, a, scalar: 2, scalarFirst: false, into: out)
        #expect(array(out, 6) == [1, 16, 4, 25, 9, 36])
        cpu.unary(.exp, a, into: out)  // the vector kernel's strided fallback
        expectClose(array(out, 6), [1, 4, 2, 5, 3, 6].map { Float(exp(Double($0))) }, tol: 1e-6, "exp of a strided view")
        cpu.binary(.greaterEqual, a, scalar: 3, scalarFirst: true, into: out)
        #expect(array(out, 6) == [1, 0, 1, 0, 1, 0])
    }

    @Test func indexSelectAndIndexAdd() {
        let x = StridedView(storage([1, 2, 3, 4, 5, 6]), Layout(contiguous: [3, 2]))
        let out = Storage(count: 8)
        cpu.indexSelect(x, width: 2, indices: [2, 0, 2, 1], into: out)
        #expect(array(out, 8) == [5, 6, 1, 2, 5, 6, 3, 4])
        let dx = storage([0, 0, 0, 0, 0, 0])
        cpu.indexAdd(StridedView(out, Layout(contiguous: [4, 2])), width: 2, indices: [2, 0, 2, 1], into: dx)
        #expect(array(dx, 6) == [1, 2, 3, 4, 10, 12])
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
