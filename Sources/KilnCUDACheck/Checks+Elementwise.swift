import KilnCompute

extension Checker {
    /// Inputs in each unary op's domain (positive where the op needs it).
    private func domain(_ op: UnaryOp, _ count: Int) -> [Float] {
        switch op {
        case .log, .sqrt, .reciprocal: values(count, 0.1, 3)
        default: values(count, -4, 4)
        }
    }

    /// Tolerance of an element-wise op: exact where both sides round one IEEE operation,
    /// a few ulps for libm against the CPU's vector approximations.
    private func tolerance(_ op: UnaryOp) -> Float {
        switch op {
        case .neg, .abs, .relu, .square: 0
        case .sqrt, .reciprocal: 1e-6
        default: 2e-5
        }
    }

    func checkElementwise() {
        let shape = [5, 7, 9], count = 315
        // A transposed source: the [9, 7, 5] buffer read as [5, 7, 9].
        let transposed = Layout(contiguous: [9, 7, 5]).permuted([2, 1, 0])
        let src = twin(values(count))
        let dense = output(count)
        cpu.copy(src.view(transposed).cpu, into: dense.view(shape).cpu)
        gpu.copy(src.view(transposed).gpu, into: dense.view(shape).gpu)
        compare("copy transposed → dense", dense, tolerance: 0)

        // Every other column of a [5, 7, 18] buffer, from offset 1.
        let strided = Layout(shape: shape, strides: [126, 18, 2], offset: 1)
        let wide = output(5 * 7 * 18)
        cpu.copy(src.view(shape).cpu, into: wide.view(strided).cpu)
        gpu.copy(src.view(shape).gpu, into: wide.view(strided).gpu)
        compare("copy dense → strided", wide, tolerance: 0)
        cpu.fill(wide.view(strided).cpu, value: 2.5)
        gpu.fill(wide.view(strided).gpu, value: 2.5)
        compare("fill strided", wide, tolerance: 0)
        cpu.fill(dense.view(shape).cpu, value: 0)
        gpu.fill(dense.view(shape).gpu, value: 0)
        compare("fill zero dense", dense, tolerance: 0)
        let readBack = gpu.read(src.view(transposed).gpu), expected = cpu.read(src.view(transposed).cpu)
        compare("read strided view", cpu: expected, gpu: readBack, tolerance: 0)
        let written = values(count)
        cpu.write(written, into: wide.view(strided).cpu)
        gpu.write(written, into: wide.view(strided).gpu)
        compare("write strided view", wide, tolerance: 0)

        for op in UnaryOp.allCases {
            let x = twin(domain(op, count)), y = output(count)
            cpu.unary(op, x.view(transposed).cpu, into: y.cpu)
            gpu.unary(op, x.view(transposed).gpu, into: y.gpu)
            compare("unary \(op)", y, tolerance: tolerance(op))
            // Backward from the same x, y (the CPU's) and dy on both sides.
            let plain = Layout(contiguous: shape)
            let yCPU = twin(host(y.cpu, count)), dy = twin(values(count)), dx = output(count)
            cpu.unaryBackward(op, x: x.view(plain).cpu, y: yCPU.view(plain).cpu, dy: dy.view(plain).cpu, into: dx.cpu)
            gpu.unaryBackward(op, x: x.view(plain).gpu, y: yCPU.view(plain).gpu, dy: dy.view(plain).gpu, into: dx.gpu)
            compare("unaryBackward \(op)", dx, tolerance: tolerance(op))
        }

        // More elements than one launch has threads (8192 blocks of 256): each thread takes several.
        let big = [2300, 2300], rowVector = Layout(contiguous: [2300]).expanded(to: big)
        let m = twin(values(2300 * 2300)), row = twin(values(2300)), sum = output(2300 * 2300)
        cpu.binary(.add, m.view(big).cpu, row.view(rowVector).cpu, into: sum.cpu)
        gpu.binary(.add, m.view(big).gpu, row.view(rowVector).gpu, into: sum.gpu)
        compare("binary add of [2300, 2300] and a broadcast row", sum, tolerance: 0)

        // Broadcasting: a [4, 1, 30] against b [5, 1], both expanded to [4, 5, 30]. Values are
        // multiples of 1/4 so that comparisons meet ties.
        let out = [4, 5, 30]
        let aLayout = Layout(contiguous: [4, 1, 30]).expanded(to: out), bLayout = Layout(contiguous: [5, 1]).expanded(to: out)
        for op in BinaryOp.allCases {
            let aValues = op == .pow ? values(120, 0.2, 3) : values(120, -2, 2).map { ($0 * 4).rounded() / 4 }
            let bValues = op == .pow ? values(5, -2, 2) : values(5, -2, 2).map { ($0 * 4).rounded() / 4 }
            let a = twin(aValues), b = twin(bValues), y = output(600)
            cpu.binary(op, a.view(aLayout).cpu, b.view(bLayout).cpu, into: y.cpu)
            gpu.binary(op, a.view(aLayout).gpu, b.view(bLayout).gpu, into: y.gpu)
            compare("binary \(op) broadcast", y, tolerance: op == .pow ? 2e-5 : 0)
            for scalarFirst in [false, true] {
                for s: Float in op == .pow ? [2, 0.5] : [0.5, -1.25] {
                    let z = output(120)
                    let view = Layout(contiguous: [30, 4]).transposed(0, 1)
                    cpu.binary(op, a.view(view).cpu, scalar: s, scalarFirst: scalarFirst, into: z.cpu)
                    gpu.binary(op, a.view(view).gpu, scalar: s, scalarFirst: scalarFirst, into: z.gpu)
                    compare("binary \(op) scalar \(s)\(scalarFirst ? " first" : "")", z, tolerance: op == .pow ? 2e-5 : 0)
                }
            }
        }
    }
}
