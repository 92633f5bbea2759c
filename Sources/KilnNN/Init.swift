import Kiln

/// Weight initialisers (PyTorch's formulas).
public enum Init {
    /// Uniform in [−bound, bound].
    public static func uniform(_ shape: [Int], bound: Float, generator: RandomGenerator = .global) -> Tensor {
        Tensor.uniform(shape, low: -bound, high: bound, generator: generator)
    }

    /// fan-in and fan-out of a weight of `shape` (`[out, in, kernel...]`).
    public static func fans(_ shape: [Int]) -> (fanIn: Int, fanOut: Int) {
        let receptive = shape.dropFirst(2).reduce(1, *)
        let fanIn = shape.count > 1 ? shape[1] * receptive : shape[0]
        return (fanIn, shape[0] * receptive)
    }

    /// He/Kaiming uniform: bound = gain·√(3 / fan_in), gain = √(2 / (1 + a²)).
    public static func kaimingUniform(_ shape: [Int], a: Float = 0, generator: RandomGenerator = .global) -> Tensor {
        let gain = (2 / (1 + a * a)).squareRoot()
        return uniform(shape, bound: gain * (3 / Float(fans(shape).fanIn)).squareRoot(), generator: generator)
    }

    /// He/Kaiming normal: std = gain / √fan_in.
    public static func kaimingNormal(_ shape: [Int], a: Float = 0, generator: RandomGenerator = .global) -> Tensor {
        let gain = (2 / (1 + a * a)).squareRoot()
        return Tensor.normal(shape, std: gain / Float(fans(shape).fanIn).squareRoot(), generator: generator)
    }

    /// Glorot/Xavier uniform: bound = gain·√(6 / (fan_in + fan_out)).
    public static func xavierUniform(_ shape: [Int], gain: Float = 1, generator: RandomGenerator = .global) -> Tensor {
        let (i, o) = fans(shape)
        return uniform(shape, bound: gain * (6 / Float(i + o)).squareRoot(), generator: generator)
    }
}
