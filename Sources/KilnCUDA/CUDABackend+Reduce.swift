import KilnCompute

extension ReduceOp {
    /// The op's code in `kiln_combine`.
    var kernelCode: Int32 {
        switch self {
        case .sum: 0
        case .max: 1
        case .min: 2
        }
    }
}

extension CUDABackend {
    package func reduce(_ op: ReduceOp, _ x: StridedView, into out: StridedView) {
        precondition(x.layout.shape == out.layout.shape, "reduce: output view \(out.layout.shape) must match input \(x.layout.shape)")
        // Kept axes: the output's non-zero strides; reduced axes: its stride-0 ones.
        var keptShape: [Int] = [], keptX: [Int] = [], keptOut: [Int] = []
        var reducedShape: [Int] = [], reducedX: [Int] = []
        for (i, n) in x.layout.shape.enumerated() where n != 1 {
            if out.layout.strides[i] != 0 {
                keptShape.append(n); keptX.append(x.layout.strides[i]); keptOut.append(out.layout.strides[i])
            } else {
                reducedShape.append(n); reducedX.append(x.layout.strides[i])
            }
        }
        let outputs = keptShape.reduce(1, *), inner = reducedShape.reduce(1, *)
        guard outputs > 0 else { return }
        let kept = collapse(keptShape, [keptX, keptOut]), reduced = collapse(reducedShape, [reducedX])
        if kept.shape.count == 1 && kept.strides[0][0] == 1 && inner >= 32 && outputs < 1 << 20 {
            reduceColumns(op, x, out, columns: outputs, outStride: kept.strides[1][0], inner: inner, reduced: reduced)
            return
        }
        let arguments: [KernelArgument] = [.int32(op.kernelCode), .pointer(address(out)), .pointer(address(x)),
                                           .int64(Int64(outputs)), .int64(Int64(inner))]
            + shapeArguments(kept.shape, kept.strides) + shapeArguments(reduced.shape, reduced.strides)
        if inner >= 512 || outputs < 2048 {
            launchRows(ReduceKernels.source, "kiln_reduce_block", rows: outputs, cols: inner, arguments)
        } else {
            launch(ReduceKernels.source, "kiln_reduce_thread", count: outputs, arguments)
        }
    }

    /// Outputs that are dense columns of `x`: blocks of 32 columns × a chunk of the reduced rows
    /// write partial results, which one thread per column then combines in order.
    private func reduceColumns(_ op: ReduceOp, _ x: StridedView, _ out: StridedView, columns: Int, outStride: Int,
                               inner: Int, reduced: (shape: [Int], strides: [[Int]])) {
        let parts = min((inner + 255) / 256, 64), chunk = (inner + parts - 1) / parts
        let partial = allocate(parts * columns)
        kernel(ReduceKernels.source, "kiln_reduce_columns").launch(
            grid: ((columns + 31) / 32, parts, 1), block: (32, 8, 1),
            [.int32(op.kernelCode), .pointer(partial.deviceAddress), .pointer(address(x)), .int64(Int64(columns)),
             .int64(Int64(inner)), .int64(Int64(chunk))] + shapeArguments(reduced.shape, reduced.strides))
        launch(ReduceKernels.source, "kiln_reduce_partials", count: columns,
               [.int32(op.kernelCode), .pointer(address(out)), .int64(Int64(outStride)), .pointer(partial.deviceAddress),
                .int64(Int64(columns)), .int32(Int32(parts))])
    }

    package func argmax(_ x: StridedView, axis: Int, into out: Storage) {
        let l = x.layout
        var outerShape = l.shape, outerStrides = l.strides
        outerShape.remove(at: axis)
        outerStrides.remove(at: axis)
        let outputs = outerShape.reduce(1, *)
        let c = collapse(outerShape, [outerStrides])
        launch(ReduceKernels.source, "kiln_argmax", count: outputs,
               [.pointer(out.deviceAddress), .pointer(address(x)), .int64(Int64(outputs)), .int64(Int64(l.shape[axis])),
                .int64(Int64(l.strides[axis]))] + shapeArguments(c.shape, c.strides))
    }
}
