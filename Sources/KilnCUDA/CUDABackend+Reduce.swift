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
        let arguments: [KernelArgument] = [.int32(op.kernelCode), .pointer(address(out)), .pointer(address(x)),
                                           .int64(Int64(outputs)), .int64(Int64(inner))]
            + shapeArguments(kept.shape, kept.strides) + shapeArguments(reduced.shape, reduced.strides)
        if inner >= 512 || outputs < 2048 {
            launchRows(ReduceKernels.source, "kiln_reduce_block", rows: outputs, cols: inner, arguments)
        } else {
            launch(ReduceKernels.source, "kiln_reduce_thread", count: outputs, arguments)
        }
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
