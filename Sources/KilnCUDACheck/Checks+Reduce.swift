import KilnCompute

extension Checker {
    /// The output layout of reducing `shape` over `axes`: the kept axes dense, stride 0 on the reduced ones.
    private func reduced(_ shape: [Int], _ axes: Set<Int>) -> (layout: Layout, count: Int) {
        var kept = shape
        for a in axes { kept[a] = 1 }
        var strides = Layout.contiguousStrides(kept)
        for a in axes { strides[a] = 0 }
        return (Layout(shape: shape, strides: strides, offset: 0), kept.reduce(1, *))
    }

    func checkReductions() {
        let shape = [6, 40, 700]
        let x = twin(values(6 * 40 * 700, -3, 3))
        // Sums of thousands of terms in different orders (a tree on the device, runs on the CPU)
        // differ by ~√n roundings of the partial sums: tolerance 3e-4 relative to 1 + |sum|.
        let cases: [(ReduceOp, Set<Int>)] = [
            (.sum, [2]), (.sum, [0]), (.sum, [0, 2]), (.sum, [0, 1, 2]), (.max, [2]), (.max, [0, 2]),
            (.min, [1]), (.min, [0]), (.sum, [1]),
        ]
        for (op, axes) in cases {
            let (layout, count) = reduced(shape, axes)
            let out = output(count)
            cpu.reduce(op, x.view(shape).cpu, into: out.view(layout).cpu)
            gpu.reduce(op, x.view(shape).gpu, into: out.view(layout).gpu)
            compare("reduce \(op) over \(axes.sorted()) of \(shape)", out, tolerance: op == .sum ? 3e-4 : 0)
        }
        // A transposed input: [700, 40, 6] read as [6, 40, 700].
        let t = Layout(contiguous: [700, 40, 6]).permuted([2, 1, 0])
        for axes: Set<Int> in [[2], [0, 1]] {
            let (layout, count) = reduced(shape, axes)
            let out = output(count)
            cpu.reduce(.sum, x.view(t).cpu, into: out.view(layout).cpu)
            gpu.reduce(.sum, x.view(t).gpu, into: out.view(layout).gpu)
            compare("reduce sum over \(axes.sorted()) of a transposed view", out, tolerance: 3e-4)
        }

        // Outputs that are dense columns (bias gradients): the column kernels, in several row chunks.
        for (op, shape, axes): (ReduceOp, [Int], Set<Int>) in [(.sum, [4096, 130], [0]), (.sum, [64, 33, 50], [0, 1]),
                                                               (.max, [300, 70], [0]), (.min, [40, 3, 20], [0])] {
            let v = twin(values(shape.reduce(1, *), -3, 3))
            let (layout, count) = reduced(shape, axes)
            let out = output(count)
            cpu.reduce(op, v.view(shape).cpu, into: out.view(layout).cpu)
            gpu.reduce(op, v.view(shape).gpu, into: out.view(layout).gpu)
            compare("reduce \(op) over \(axes.sorted()) of \(shape) (columns)", out, tolerance: op == .sum ? 3e-4 : 0)
        }

        // argmax along each axis, of distinct values and of values with ties (first index wins).
        let small = [7, 9, 11]
        for ties in [false, true] {
            let v = twin(values(693, -3, 3).map { ties ? $0.rounded() : $0 })
            for axis in 0..<3 {
                let count = 693 / small[axis]
                let out = output(count)
                cpu.argmax(v.view(small).cpu, axis: axis, into: out.cpu)
                gpu.argmax(v.view(small).gpu, axis: axis, into: out.gpu)
                compare("argmax axis \(axis)\(ties ? " with ties" : "")", out, tolerance: 0)
            }
        }
    }

    func checkProducts() {
        for (transA, transB) in [(false, false), (true, false), (false, true), (true, true)] {
            let m = 33, n = 45, k = 70, batch = 3
            let a = twin(values(batch * m * k + 5)), b = twin(values(batch * k * n + 3))
            let c = twin(values(batch * m * n + 7))
            func problem(_ a: Storage, _ b: Storage, _ c: Storage) -> GemmProblem {
                GemmProblem(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, beta: 0.25,
                            a: a, aOffset: 5, lda: transA ? m : k, aBatchStride: m * k,
                            b: b, bOffset: 3, ldb: transB ? k : n, bBatchStride: k * n,
                            c: c, cOffset: 7, ldc: n, cBatchStride: m * n, batch: batch)
            }
            cpu.gemm(problem(a.cpu, b.cpu, c.cpu))
            gpu.gemm(problem(a.gpu, b.gpu, c.gpu))
            compare("gemm transA \(transA) transB \(transB) batch 3", c, tolerance: 1e-5)
        }
    }

    func checkSoftmax() {
        for (rows, cols) in [(37, 300), (5, 5000), (64, 10)] {
            let x = twin(values(rows * cols, -6, 6))
            for log in [false, true] {
                let y = output(rows * cols)
                cpu.softmax(x.view([rows, cols]).cpu, rows: rows, cols: cols, log: log, into: y.cpu)
                gpu.softmax(x.view([rows, cols]).gpu, rows: rows, cols: cols, log: log, into: y.gpu)
                compare("\(log ? "logSoftmax" : "softmax") [\(rows), \(cols)]", y, tolerance: 1e-5)
                let yRef = twin(host(y.cpu, rows * cols)), dy = twin(values(rows * cols)), dx = output(rows * cols)
                cpu.softmaxBackward(y: yRef.view([rows, cols]).cpu, dy: dy.view([rows, cols]).cpu, rows: rows, cols: cols,
                                    log: log, into: dx.cpu)
                gpu.softmaxBackward(y: yRef.view([rows, cols]).gpu, dy: dy.view([rows, cols]).gpu, rows: rows, cols: cols,
                                    log: log, into: dx.gpu)
                compare("\(log ? "logSoftmax" : "softmax")Backward [\(rows), \(cols)]", dx, tolerance: 1e-5)
            }
            let labels = (0..<rows).map { _ in Int32(random.nextInt(below: cols)) }
            for smoothing: Float in [0, 0.1] {
                let probs = output(rows * cols)
                let lossCPU = cpu.crossEntropy(x.view([rows, cols]).cpu, labels: labels, rows: rows, cols: cols,
                                               smoothing: smoothing, probs: probs.cpu)
                let lossGPU = gpu.crossEntropy(x.view([rows, cols]).gpu, labels: labels, rows: rows, cols: cols,
                                               smoothing: smoothing, probs: probs.gpu)
                compare("crossEntropy loss [\(rows), \(cols)] smoothing \(smoothing)", cpu: [lossCPU], gpu: [lossGPU],
                        tolerance: 1e-5)
                let lossOnDevice = gpu.allocate(1)
                gpu.crossEntropy(x.view([rows, cols]).gpu, labels: labels, rows: rows, cols: cols, smoothing: smoothing,
                                 probs: probs.gpu, loss: lossOnDevice)
                compare("crossEntropy loss kept on the device [\(rows), \(cols)] smoothing \(smoothing)", cpu: [lossCPU],
                        gpu: device(lossOnDevice, 1), tolerance: 1e-5)
                compare("crossEntropy probs [\(rows), \(cols)] smoothing \(smoothing)", probs, tolerance: 1e-5)
                let p = twin(host(probs.cpu, rows * cols)), dx = output(rows * cols)
                let scale = 1 / Float(rows)
                cpu.crossEntropyBackward(probs: p.view([rows, cols]).cpu, labels: labels, rows: rows, cols: cols,
                                         smoothing: smoothing, scale: scale, into: dx.cpu)
                gpu.crossEntropyBackward(probs: p.view([rows, cols]).gpu, labels: labels, rows: rows, cols: cols,
                                         smoothing: smoothing, scale: scale, into: dx.gpu)
                compare("crossEntropyBackward [\(rows), \(cols)] smoothing \(smoothing)", dx, tolerance: 1e-6)
            }
        }
    }

    func checkEmbedding() {
        let rows = 50, width = 33
        let table = twin(values(rows * width))
        // Repeated rows: indexAdd must sum every occurrence.
        let indices = (0..<200).map { _ in Int32(random.nextInt(below: rows)) }
        let out = output(200 * width)
        cpu.indexSelect(table.view([rows, width]).cpu, width: width, indices: indices, into: out.cpu)
        gpu.indexSelect(table.view([rows, width]).gpu, width: width, indices: indices, into: out.gpu)
        compare("indexSelect", out, tolerance: 0)
        let dy = twin(values(200 * width)), dx = twin(values(rows * width))
        cpu.indexAdd(dy.view([200, width]).cpu, width: width, indices: indices, into: dx.cpu)
        gpu.indexAdd(dy.view([200, width]).gpu, width: width, indices: indices, into: dx.gpu)
        compare("indexAdd with repeated rows", dx, tolerance: 1e-5)
    }
}
