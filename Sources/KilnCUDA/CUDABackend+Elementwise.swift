import KilnCompute

// Strided element-wise ops: the host merges axes that are contiguous for every operand (a dense
// tensor becomes one axis, which the kernels index without divisions) and passes the shape and
// each operand's strides as kernel parameters.

/// The rank limit of strided kernels (`KILN_SHAPE`).
let maxKernelRank = 8

/// `shape` with size-1 axes dropped and neighbouring axes merged where every operand's strides
/// allow it (as `forEachRow` does); at least one axis.
func collapse(_ shape: [Int], _ strides: [[Int]]) -> (shape: [Int], strides: [[Int]]) {
    var dims: [Int] = []
    var st = [[Int]](repeating: [], count: strides.count)
    for i in shape.indices where shape[i] != 1 {
        if let last = dims.indices.last, strides.indices.allSatisfy({ st[$0][last] == strides[$0][i] * shape[i] }) {
            dims[last] *= shape[i]
            for k in strides.indices { st[k][last] = strides[k][i] }
        } else {
            dims.append(shape[i])
            for k in strides.indices { st[k].append(strides[k][i]) }
        }
    }
    if dims.isEmpty { return ([1], strides.map { _ in [1] }) }
    return (dims, st)
}

/// `KILN_SHAPE` and one `KILN_STRIDES` per operand, from a collapsed shape.
func shapeArguments(_ shape: [Int], _ strides: [[Int]]) -> [KernelArgument] {
    precondition(shape.count <= maxKernelRank, "CUDA: views of rank \(shape.count) after merging axes exceed \(maxKernelRank)")
    func padded(_ v: [Int], _ fill: Int) -> [KernelArgument] {
        (v + Array(repeating: fill, count: maxKernelRank - v.count)).map { .int64(Int64($0)) }
    }
    var arguments: [KernelArgument] = [.int32(Int32(shape.count))] + padded(shape, 1)
    for s in strides { arguments += padded(s, 0) }
    return arguments
}

extension UnaryOp {
    /// The op's code in `kiln_unary_f` / `kiln_unary_backward_f`.
    var kernelCode: Int32 {
        switch self {
        case .neg: 0
        case .exp: 1
        case .log: 2
        case .sqrt: 3
        case .abs: 4
        case .tanh: 5
        case .sigmoid: 6
        case .relu: 7
        case .gelu: 8
        case .geluTanh: 9
        case .square: 10
        case .reciprocal: 11
        }
    }
}

extension BinaryOp {
    /// The op's code in `kiln_binary_f`.
    var kernelCode: Int32 {
        switch self {
        case .add: 0
        case .sub: 1
        case .mul: 2
        case .div: 3
        case .pow: 4
        case .maximum: 5
        case .minimum: 6
        case .equal: 7
        case .notEqual: 8
        case .less: 9
        case .lessEqual: 10
        case .greater: 11
        case .greaterEqual: 12
        }
    }

    /// Whether `s op a` equals `a op s` (the CPU backend evaluates those as `a op s`).
    var isCommutative: Bool {
        switch self {
        case .add, .mul, .maximum, .minimum, .equal, .notEqual: true
        default: false
        }
    }
}

extension CUDABackend {
    private var elementwise: KernelSource { ElementwiseKernels.source }

    package func copy(_ src: StridedView, into dst: StridedView) {
        precondition(src.layout.shape == dst.layout.shape, "copy: shapes \(src.layout.shape) and \(dst.layout.shape) differ")
        let count = src.layout.count
        guard count > 0 else { return }
        if src.layout.isContiguous && dst.layout.isContiguous {
            context.copyDevice(src.deviceStart, to: dst.deviceStart, bytes: count * MemoryLayout<Float>.stride)
            return
        }
        let c = collapse(src.layout.shape, [dst.layout.strides, src.layout.strides])
        launch(elementwise, "kiln_copy", count: count,
               [.pointer(address(dst)), .pointer(address(src)), .int64(Int64(count))] + shapeArguments(c.shape, c.strides))
    }

    package func fill(_ dst: StridedView, value: Float) {
        let count = dst.layout.count
        guard count > 0 else { return }
        if value == 0 && dst.layout.isContiguous {
            context.memsetZero(dst.deviceStart, bytes: count * MemoryLayout<Float>.stride)
            return
        }
        let c = collapse(dst.layout.shape, [dst.layout.strides])
        launch(elementwise, "kiln_fill", count: count,
               [.pointer(address(dst)), .float(value), .int64(Int64(count))] + shapeArguments(c.shape, c.strides))
    }

    package func read(_ src: StridedView) -> [Float] {
        let count = src.layout.count
        guard count > 0 else { return [] }
        var dense = src
        if !src.layout.isContiguous {
            dense = StridedView(allocate(count), Layout(contiguous: src.layout.shape))
            copy(src, into: dense)
        }
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            context.download(dense.deviceStart, bytes: count * MemoryLayout<Float>.stride, to: buffer.baseAddress!)
            initialized = count
        }
    }

    package func write(_ values: [Float], into dst: StridedView) {
        precondition(values.count == dst.layout.count, "write: \(values.count) values for a view of shape \(dst.layout.shape)")
        guard !values.isEmpty else { return }
        let dense = dst.layout.isContiguous ? dst : StridedView(allocate(values.count), Layout(contiguous: dst.layout.shape))
        values.withUnsafeBytes { context.upload($0.baseAddress!, bytes: $0.count, to: dense.deviceStart) }
        if !dst.layout.isContiguous { copy(dense, into: dst) }
    }

    package func unary(_ op: UnaryOp, _ x: StridedView, into out: Storage) {
        let count = x.layout.count
        let c = collapse(x.layout.shape, [x.layout.strides])
        launch(elementwise, "kiln_unary", count: count,
               [.int32(op.kernelCode), .pointer(out.deviceAddress), .pointer(address(x)), .int64(Int64(count))]
                + shapeArguments(c.shape, c.strides))
    }

    package func unaryBackward(_ op: UnaryOp, x: StridedView, y: StridedView, dy: StridedView, into dx: Storage) {
        let count = x.layout.count
        guard count > 0 else { return }
        launch(elementwise, "kiln_unary_backward", count: count,
               [.int32(op.kernelCode), .pointer(dx.deviceAddress), .pointer(x.deviceStart), .pointer(y.deviceStart),
                .pointer(dy.deviceStart), .int64(Int64(count))])
    }

    package func binary(_ op: BinaryOp, _ a: StridedView, _ b: StridedView, into out: Storage) {
        precondition(a.layout.shape == b.layout.shape, "binary: operands \(a.layout.shape) and \(b.layout.shape) not broadcast")
        let count = a.layout.count
        let c = collapse(a.layout.shape, [a.layout.strides, b.layout.strides])
        launch(elementwise, "kiln_binary", count: count,
               [.int32(op.kernelCode), .pointer(out.deviceAddress), .pointer(address(a)), .pointer(address(b)),
                .int64(Int64(count))] + shapeArguments(c.shape, c.strides))
    }

    package func binary(_ op: BinaryOp, _ a: StridedView, scalar s: Float, scalarFirst: Bool, into out: Storage) {
        let count = a.layout.count
        let c = collapse(a.layout.shape, [a.layout.strides])
        let first: Int32 = scalarFirst && !op.isCommutative ? 1 : 0
        launch(elementwise, "kiln_binary_scalar", count: count,
               [.int32(op.kernelCode), .pointer(out.deviceAddress), .pointer(address(a)), .float(s), .int32(first),
                .int64(Int64(count))] + shapeArguments(c.shape, c.strides))
    }
}
