import KilnCompute

extension Tensor {
    /// Applies a binary kernel after broadcasting both operands (views, no copies).
    package func binary(_ op: BinaryOp, _ other: Tensor) -> Tensor {
        guard let outShape = broadcastShapes(shape, other.shape) else {
            preconditionFailure("\(op): shapes \(shape) and \(other.shape) don't broadcast")
        }
        precondition(device == other.device, "\(op): tensors on \(device) and \(other.device)")
        let out = empty(outShape)
        backend.binary(op, StridedView(storage, layout.expanded(to: outShape)),
                       StridedView(other.storage, other.layout.expanded(to: outShape)), into: out.storage)
        return out
    }

    package func scalarOp(_ op: BinaryOp, _ s: Float, scalarFirst: Bool) -> Tensor {
        let out = empty(shape)
        backend.binary(op, view, scalar: s, scalarFirst: scalarFirst, into: out.storage)
        return out
    }

    /// Records a pullback on a freshly computed output (no node yet).
    package func recordedReplacing(from inputs: [Tensor], name: StaticString = #function,
                                   _ pullback: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        detached().recorded(from: inputs, name: name, pullback)
    }

    /// Sums a broadcast gradient back to `target` shape: over leading axes and over size-1 axes.
    public func sumTo(_ target: [Int]) -> Tensor {
        if shape == target { return self }
        let lead = rank - target.count
        precondition(lead >= 0, "sumTo: can't reduce \(shape) to \(target)")
        var axes = Array(0..<lead)
        for i in 0..<target.count where target[i] == 1 && shape[lead + i] != 1 { axes.append(lead + i) }
        return sum(axes: axes, keepDims: true).reshaped(target)
    }

    /// Element-wise sum, broadcasting both operands.
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        a.binary(.add, b).recordedReplacing(from: [a, b]) { [a = a.shape, b = b.shape] g in
            [g.sumTo(a), g.sumTo(b)]
        }
    }

    /// Element-wise difference, broadcasting both operands.
    public static func - (a: Tensor, b: Tensor) -> Tensor {
        a.binary(.sub, b).recordedReplacing(from: [a, b]) { [a = a.shape, b = b.shape] g in
            [g.sumTo(a), (-g).sumTo(b)]
        }
    }

    /// Element-wise product, broadcasting both operands.
    public static func * (a: Tensor, b: Tensor) -> Tensor {
        let x = a.detached(), y = b.detached()
        return a.binary(.mul, b).recordedReplacing(from: [a, b]) { g in
            [a.requiresGrad ? (g * y).sumTo(x.shape) : nil, b.requiresGrad ? (g * x).sumTo(y.shape) : nil]
        }
    }

    /// Element-wise quotient, broadcasting both operands.
    public static func / (a: Tensor, b: Tensor) -> Tensor {
        let x = a.detached(), y = b.detached()
        return a.binary(.div, b).recordedReplacing(from: [a, b]) { g in
            [a.requiresGrad ? (g / y).sumTo(x.shape) : nil,
             b.requiresGrad ? (-(g * x) / (y * y)).sumTo(y.shape) : nil]
        }
    }

    /// Adds a constant to every element.
    public static func + (a: Tensor, s: Float) -> Tensor { a.scalarOp(.add, s, scalarFirst: false).recordedReplacing(from: [a]) { [$0] } }
    /// Adds a constant to every element.
    public static func + (s: Float, a: Tensor) -> Tensor { a + s }
    /// Subtracts a constant from every element.
    public static func - (a: Tensor, s: Float) -> Tensor { a + (-s) }
    /// A constant minus each element.
    public static func - (s: Float, a: Tensor) -> Tensor { a.scalarOp(.sub, s, scalarFirst: true).recordedReplacing(from: [a]) { [-$0] } }
    /// Multiplies every element by a constant.
    public static func * (a: Tensor, s: Float) -> Tensor { a.scalarOp(.mul, s, scalarFirst: false).recordedReplacing(from: [a]) { [$0 * s] } }
    /// Multiplies every element by a constant.
    public static func * (s: Float, a: Tensor) -> Tensor { a * s }
    /// Divides every element by a constant.
    public static func / (a: Tensor, s: Float) -> Tensor { a * (1 / s) }
    /// A constant divided by each element.
    public static func / (s: Float, a: Tensor) -> Tensor {
        let x = a.detached()
        return a.scalarOp(.div, s, scalarFirst: true).recordedReplacing(from: [a]) { g in [-(g * s) / (x * x)] }
    }

    /// `a = a + b` (a new tensor; `a`'s old storage is not written).
    public static func += (a: inout Tensor, b: Tensor) { a = a + b }
    /// `a = a - b` (a new tensor; `a`'s old storage is not written).
    public static func -= (a: inout Tensor, b: Tensor) { a = a - b }
    /// `a = a * b` (a new tensor; `a`'s old storage is not written).
    public static func *= (a: inout Tensor, b: Tensor) { a = a * b }
}

/// Element-wise larger of two tensors (broadcast). At ties the gradient is split evenly.
public func maximum(_ a: Tensor, _ b: Tensor) -> Tensor { minmax(a, b, .maximum, .greater) }
/// Element-wise smaller of two tensors (broadcast). At ties the gradient is split evenly.
public func minimum(_ a: Tensor, _ b: Tensor) -> Tensor { minmax(a, b, .minimum, .less) }

private func minmax(_ a: Tensor, _ b: Tensor, _ op: BinaryOp, _ wins: BinaryOp) -> Tensor {
    let x = a.detached(), y = b.detached()
    return a.binary(op, b).recordedReplacing(from: [a, b]) { g in
        // Share of the gradient for `a`: 1 where it wins, 0.5 at a tie, 0 where it loses.
        let share = x.binary(wins, y) + x.binary(.equal, y) * 0.5
        return [(g * share).sumTo(x.shape), (g * (1 - share)).sumTo(y.shape)]
    }
}

// Comparisons: 1 where true, 0 where false; no gradient.
infix operator .==: ComparisonPrecedence
infix operator .!=: ComparisonPrecedence
infix operator .<: ComparisonPrecedence
infix operator .<=: ComparisonPrecedence
infix operator .>: ComparisonPrecedence
infix operator .>=: ComparisonPrecedence

extension Tensor {
    /// 1 where `a == b`, else 0 (broadcast).
    public static func .== (a: Tensor, b: Tensor) -> Tensor { a.binary(.equal, b) }
    /// 1 where `a != b`, else 0 (broadcast).
    public static func .!= (a: Tensor, b: Tensor) -> Tensor { a.binary(.notEqual, b) }
    /// 1 where `a < b`, else 0 (broadcast).
    public static func .< (a: Tensor, b: Tensor) -> Tensor { a.binary(.less, b) }
    /// 1 where `a <= b`, else 0 (broadcast).
    public static func .<= (a: Tensor, b: Tensor) -> Tensor { a.binary(.lessEqual, b) }
    /// 1 where `a > b`, else 0 (broadcast).
    public static func .> (a: Tensor, b: Tensor) -> Tensor { a.binary(.greater, b) }
    /// 1 where `a >= b`, else 0 (broadcast).
    public static func .>= (a: Tensor, b: Tensor) -> Tensor { a.binary(.greaterEqual, b) }
    /// 1 where `a == s`, else 0.
    public static func .== (a: Tensor, s: Float) -> Tensor { a.scalarOp(.equal, s, scalarFirst: false) }
    /// 1 where `a > s`, else 0.
    public static func .> (a: Tensor, s: Float) -> Tensor { a.scalarOp(.greater, s, scalarFirst: false) }
    /// 1 where `a < s`, else 0.
    public static func .< (a: Tensor, s: Float) -> Tensor { a.scalarOp(.less, s, scalarFirst: false) }
}
