import Kiln
import KilnCompute
import Testing

/// Large tensors (above the 65,536-element threshold) take the multi-threaded kernel paths; they
/// must give the single-threaded results.
@Suite(.serialized) struct MultithreadedTests {
    /// Each op's output with 1 thread and with 2, for one input.
    private func compare(_ what: String, atol: Float = 0, _ op: () -> Tensor,
                         sourceLocation: SourceLocation = #_sourceLocation) {
        setThreadCount(1)
        let single = op()
        setThreadCount(2)
        let multi = op()
        #expect(single.shape == multi.shape, "\(what)", sourceLocation: sourceLocation)
        if atol == 0 {
            #expect(single.scalars == multi.scalars, "\(what)", sourceLocation: sourceLocation)
        } else {
            expectClose(multi.scalars, single.scalars, atol: atol, rtol: 1e-5, what, sourceLocation: sourceLocation)
        }
    }

    @Test func largeKernelsMatchTheSingleThreadedPath() {
        let previous = threadCount()
        defer { setThreadCount(previous) }
        let x = random([300, 301], seed: 1, in: -3...3)    // 90,300 elements
        let y = random([300, 301], seed: 2, in: 0.5...2)
        let row = random([301], seed: 3)
        compare("exp (vector map)") { x.exp() }
        compare("sigmoid") { x.sigmoid() }
        compare("tanh (scalar map)") { x.tanh() }
        compare("gelu of a transposed view") { x.transposed().gelu() }
        compare("add, one long row") { x + y }
        compare("mul with a broadcast row") { x * row }
        compare("div, transposed operand") { x.transposed() / y.transposed() }
        compare("scalar op") { 2 - x }
        compare("contiguous of transposed (copy)") { x.transposed().contiguous() }
        compare("softmax") { x.softmax() }
        compare("logSoftmax") { x.logSoftmax() }
        compare("sum over rows") { x.sum(axis: 1) }
        compare("max over columns") { x.max(axis: 0) }
        compare("matmul", atol: 1e-4) { x.matmul(y.transposed()) }
        compare("unary backward") {
            let leaf = x.requiringGrad()
            leaf.tanh().sum().backward()
            return leaf.grad!
        }
        compare("softmax backward") {
            let leaf = x.requiringGrad()
            (leaf.softmax() * y).sum().backward()
            return leaf.grad!
        }
    }

    @Test func largeKernelsMatchNaiveValues() {
        let previous = threadCount()
        defer { setThreadCount(previous) }
        setThreadCount(2)
        let n = 100_003
        let x = Tensor.arange(0, Float(n)) * 1e-4
        let xs = x.scalars
        let e = x.exp().scalars
        for i in stride(from: 0, to: n, by: 997) {
            let expected = exp(Double(xs[i]))
            #expect(Swift.abs(Double(e[i]) - expected) <= 1e-6 * expected, "exp at \(i)")
        }
        let s = (x + 1).scalars
        #expect(zip(s, xs).allSatisfy { $0 == $1 + 1 })
        #expect(Swift.abs(Double(x.sum().item) - xs.reduce(0.0) { $0 + Double($1) }) < 1e-3 * Double(n))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
