import KilnCompute

extension Tensor {
    /// Applies a unary kernel; backward uses the fused `unaryBackward` kernel with x and y saved.
    package func unary(_ op: UnaryOp, name: StaticString = #function) -> Tensor {
        let out = empty(shape)
        backend.unary(op, view, into: out.storage)
        let x = detached()
        let y = out  // graph-free: `out` has no node yet, so saving it makes no cycle
        return out.recorded(from: [self], name: name) { dy in
            let xc = x.contiguous(), dyc = dy.contiguous()
            let dx = dyc.empty(dyc.shape)
            dx.backend.unaryBackward(op, x: xc.view, y: y.view, dy: dyc.view, into: dx.storage)
            return [dx]
        }
    }

    /// −x.
    public static prefix func - (x: Tensor) -> Tensor { x.unary(.neg) }
    /// eˣ.
    public func exp() -> Tensor { unary(.exp) }
    /// Natural logarithm.
    public func log() -> Tensor { unary(.log) }
    /// Square root.
    public func sqrt() -> Tensor { unary(.sqrt) }
    /// Absolute value (gradient 0 at 0).
    public func abs() -> Tensor { unary(.abs) }
    /// Hyperbolic tangent.
    public func tanh() -> Tensor { unary(.tanh) }
    /// Logistic sigmoid 1 / (1 + e⁻ˣ).
    public func sigmoid() -> Tensor { unary(.sigmoid) }
    /// max(x, 0) (gradient 0 at 0).
    public func relu() -> Tensor { unary(.relu) }
    /// x²
    public func square() -> Tensor { unary(.square) }
    /// 1 / x
    public func reciprocal() -> Tensor { unary(.reciprocal) }

    /// Gaussian error linear unit: exact `x·Φ(x)`, or the tanh approximation when `approximate`.
    public func gelu(approximate: Bool = false) -> Tensor { unary(approximate ? .geluTanh : .gelu) }

    /// xᵖ for a constant exponent.
    public func pow(_ p: Float) -> Tensor {
        if p == 2 { return square() }
        let x = detached()
        return scalarOp(.pow, p, scalarFirst: false).recordedReplacing(from: [self]) { g in
            [g * x.pow(p - 1) * p]
        }
    }
}
