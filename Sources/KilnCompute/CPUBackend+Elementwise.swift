// Element-wise kernels. Each op is one `switch` outside the loop; the loop body is a closure
// literal inlined into a specialised copy of `map1`/`map2`, which auto-vectorises.

private let sqrt2OverPi: Float = 0.797_884_56

@inline(__always)
private func map1(_ x: StridedView, _ out: Storage, _ f: (Float) -> Float) {
    let src = x.base, dst = out.pointer
    let l = x.layout
    forEachRow(shape: l.shape, Layout.contiguousStrides(l.shape), 0, l.strides, l.offset) { n, o, s in
        let po = dst + o.0, pi = src + o.1
        if s.1 == 1 {
            for i in 0..<n { po[i] = f(pi[i]) }
        } else {
            for i in 0..<n { po[i] = f(pi[i * s.1]) }
        }
    }
}

@inline(__always)
private func map2(_ a: StridedView, _ b: StridedView, _ out: Storage, _ f: (Float, Float) -> Float) {
    let pa = a.base, pb = b.base, dst = out.pointer
    let shape = a.layout.shape
    forEachRow(shape: shape, Layout.contiguousStrides(shape), 0, a.layout.strides, a.layout.offset,
               b.layout.strides, b.layout.offset) { n, o, s in
        let po = dst + o.0, x = pa + o.1, y = pb + o.2
        switch (s.1, s.2) {
        case (1, 1): for i in 0..<n { po[i] = f(x[i], y[i]) }
        case (1, 0): let c = y[0]; for i in 0..<n { po[i] = f(x[i], c) }
        case (0, 1): let c = x[0]; for i in 0..<n { po[i] = f(c, y[i]) }
        default: for i in 0..<n { po[i] = f(x[i * s.1], y[i * s.2]) }
        }
    }
}

@inline(__always)
private func map3(_ a: StridedView, _ b: StridedView, _ c: StridedView, _ out: Storage,
                  _ f: (Float, Float, Float) -> Float) {
    let count = a.layout.count
    let x = a.start, y = b.start, z = c.start, po = out.pointer
    parallelChunks(count, work: count) { r in
        for i in r { po[i] = f(x[i], y[i], z[i]) }
    }
}

@inline(__always)
private func vectorMap(_ x: StridedView, _ out: Storage, _ f: (SIMD16<Float>) -> SIMD16<Float>) {
    guard x.layout.isContiguous else {
        map1(x, out) { f(SIMD16(repeating: $0))[0] }
        return
    }
    let src = x.base + x.layout.offset, dst = out.pointer
    let count = x.layout.count
    parallelChunks(count, work: count) { r in
        var i = r.lowerBound
        while i + 16 <= r.upperBound {
            let v = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(dst + i).storeBytes(of: f(v), as: SIMD16<Float>.self)
            i += 16
        }
        while i < r.upperBound { dst[i] = f(SIMD16(repeating: src[i]))[0]; i += 1 }
    }
}

/// `out = f(x, g)` over two contiguous inputs, 16 lanes at a time.
@inline(__always)
private func vectorMap2(_ a: StridedView, _ b: StridedView, _ out: Storage,
                        _ f: (SIMD16<Float>, SIMD16<Float>) -> SIMD16<Float>) {
    let x = a.start, y = b.start, po = out.pointer
    let count = a.layout.count
    parallelChunks(count, work: count * 8) { r in
        var i = r.lowerBound
        while i + 16 <= r.upperBound {
            let u = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
            let v = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(po + i).storeBytes(of: f(u, v), as: SIMD16<Float>.self)
            i += 16
        }
        while i < r.upperBound { po[i] = f(SIMD16(repeating: x[i]), SIMD16(repeating: y[i]))[0]; i += 1 }
    }
}

@inline(__always)
private func geluTanhInner(_ x: Float) -> Float { sqrt2OverPi * (x + 0.044_715 * x * x * x) }

extension CPUBackend {
    package func unary(_ op: UnaryOp, _ x: StridedView, into out: Storage) {
        switch op {
        case .neg: map1(x, out) { -$0 }
        case .exp: vectorMap(x, out) { vexp($0) }
        case .log: map1(x, out) { _logf($0) }
        case .sqrt: map1(x, out) { $0.squareRoot() }
        case .abs: map1(x, out) { Swift.abs($0) }
        case .tanh: map1(x, out) { _tanhf($0) }
        case .sigmoid: vectorMap(x, out) { 1 / (1 + vexp(-$0)) }
        case .relu: map1(x, out) { $0 > 0 ? $0 : 0 }
        case .gelu: vectorMap(x, out) { vgelu($0) }
        case .geluTanh: map1(x, out) { 0.5 * $0 * (1 + _tanhf(geluTanhInner($0))) }
        case .square: map1(x, out) { $0 * $0 }
        case .reciprocal: map1(x, out) { 1 / $0 }
        }
    }

    package func unaryBackward(_ op: UnaryOp, x: StridedView, y: StridedView, dy: StridedView, into dx: Storage) {
        switch op {
        case .neg: map3(x, y, dy, dx) { _, _, g in -g }
        case .exp: map3(x, y, dy, dx) { _, y, g in g * y }
        case .log: map3(x, y, dy, dx) { x, _, g in g / x }
        case .sqrt: map3(x, y, dy, dx) { _, y, g in g * 0.5 / y }
        case .abs: map3(x, y, dy, dx) { x, _, g in x > 0 ? g : (x < 0 ? -g : 0) }
        case .tanh: map3(x, y, dy, dx) { _, y, g in g * (1 - y * y) }
        case .sigmoid: map3(x, y, dy, dx) { _, y, g in g * y * (1 - y) }
        case .relu: map3(x, y, dy, dx) { x, _, g in x > 0 ? g : 0 }
        case .gelu: vectorMap2(x, dy, dx) { x, g in g * vgeluDerivative(x) }
        case .geluTanh:
            map3(x, y, dy, dx) { x, _, g in
                let t = _tanhf(geluTanhInner(x))
                let dInner = sqrt2OverPi * (1 + 3 * 0.044_715 * x * x)
                return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * dInner)
            }
        case .square: map3(x, y, dy, dx) { x, _, g in 2 * x * g }
        case .reciprocal: map3(x, y, dy, dx) { _, y, g in -g * y * y }
        }
    }

    package func binary(_ op: BinaryOp, _ a: StridedView, _ b: StridedView, into out: Storage) {
        precondition(a.layout.shape == b.layout.shape, "binary: operands \(a.layout.shape) and \(b.layout.shape) not broadcast")
        switch op {
        case .add: map2(a, b, out) { $0 + $1 }
        case .sub: map2(a, b, out) { $0 - $1 }
        case .mul: map2(a, b, out) { $0 * $1 }
        case .div: map2(a, b, out) { $0 / $1 }
        case .pow: map2(a, b, out) { _powf($0, $1) }
        case .maximum: map2(a, b, out) { $0 > $1 ? $0 : $1 }
        case .minimum: map2(a, b, out) { $0 < $1 ? $0 : $1 }
        case .equal: map2(a, b, out) { $0 == $1 ? 1 : 0 }
        case .notEqual: map2(a, b, out) { $0 != $1 ? 1 : 0 }
        case .less: map2(a, b, out) { $0 < $1 ? 1 : 0 }
        case .lessEqual: map2(a, b, out) { $0 <= $1 ? 1 : 0 }
        case .greater: map2(a, b, out) { $0 > $1 ? 1 : 0 }
        case .greaterEqual: map2(a, b, out) { $0 >= $1 ? 1 : 0 }
        }
    }

    package func binary(_ op: BinaryOp, _ a: StridedView, scalar s: Float, scalarFirst: Bool, into out: Storage) {
        if scalarFirst {
            switch op {
            case .sub: map1(a, out) { s - $0 }
            case .div: map1(a, out) { s / $0 }
            case .pow: map1(a, out) { _powf(s, $0) }
            case .less: map1(a, out) { s < $0 ? 1 : 0 }
            case .lessEqual: map1(a, out) { s <= $0 ? 1 : 0 }
            case .greater: map1(a, out) { s > $0 ? 1 : 0 }
            case .greaterEqual: map1(a, out) { s >= $0 ? 1 : 0 }
            case .add, .mul, .maximum, .minimum, .equal, .notEqual:
                binary(op, a, scalar: s, scalarFirst: false, into: out)  // commutative
            }
            return
        }
        switch op {
        case .add: map1(a, out) { $0 + s }
        case .sub: map1(a, out) { $0 - s }
        case .mul: map1(a, out) { $0 * s }
        case .div: map1(a, out) { $0 / s }
        case .pow:
            if s == 2 { map1(a, out) { $0 * $0 } } else { map1(a, out) { _powf($0, s) } }
        case .maximum: map1(a, out) { $0 > s ? $0 : s }
        case .minimum: map1(a, out) { $0 < s ? $0 : s }
        case .equal: map1(a, out) { $0 == s ? 1 : 0 }
        case .notEqual: map1(a, out) { $0 != s ? 1 : 0 }
        case .less: map1(a, out) { $0 < s ? 1 : 0 }
        case .lessEqual: map1(a, out) { $0 <= s ? 1 : 0 }
        case .greater: map1(a, out) { $0 > s ? 1 : 0 }
        case .greaterEqual: map1(a, out) { $0 >= s ? 1 : 0 }
        }
    }
}
