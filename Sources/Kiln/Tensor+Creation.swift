import KilnCompute

extension Tensor {
    /// A tensor of `shape` filled with `value`.
    public static func full(_ shape: [Int], _ value: Float, device: Device = .cpu) -> Tensor {
        let t = Tensor(storage: KilnCompute.backend(for: device).allocate(shape.reduce(1, *)), layout: Layout(contiguous: shape))
        t.backend.fill(t.view, value: value)
        return t
    }

    /// A tensor of `shape` filled with zeros.
    public static func zeros(_ shape: [Int], device: Device = .cpu) -> Tensor { full(shape, 0, device: device) }

    /// A tensor of `shape` filled with ones.
    public static func ones(_ shape: [Int], device: Device = .cpu) -> Tensor { full(shape, 1, device: device) }

    /// Zeros with this tensor's shape.
    public func zerosLike() -> Tensor { Tensor.zeros(shape, device: device) }

    /// `[start, start + step, …]` up to but excluding `end`.
    public static func arange(_ start: Float = 0, _ end: Float, step: Float = 1, device: Device = .cpu) -> Tensor {
        precondition(step != 0, "arange: step must not be 0")
        let n = Swift.max(0, Int(((end - start) / step).rounded(.up)))
        return Tensor(shape: [n]) { buffer in
            for i in 0..<n { buffer[i] = start + Float(i) * step }
        }.to(device)
    }

    /// Uniform random values in [low, high), drawn on `device` (each device has its own stream of
    /// numbers for a seed: create on the CPU and move with `to(_:)` for the CPU's values).
    public static func uniform(_ shape: [Int], low: Float = 0, high: Float = 1,
                               generator: RandomGenerator = .global, device: Device = .cpu) -> Tensor {
        let t = Tensor.empty(shape, device: device)
        t.backend.fillUniform(t.storage, count: t.count, low: low, high: high, generator: generator)
        return t
    }

    /// Normally distributed random values, drawn on `device` (see `uniform` about devices).
    public static func normal(_ shape: [Int], mean: Float = 0, std: Float = 1,
                              generator: RandomGenerator = .global, device: Device = .cpu) -> Tensor {
        let t = Tensor.empty(shape, device: device)
        t.backend.fillNormal(t.storage, count: t.count, mean: mean, std: std, generator: generator)
        return t
    }

    package static func empty(_ shape: [Int], device: Device = .cpu) -> Tensor {
        Tensor(storage: KilnCompute.backend(for: device).allocate(shape.reduce(1, *)), layout: Layout(contiguous: shape))
    }

    /// A contiguous copy with its own storage (gradients flow through it).
    public func copied() -> Tensor {
        let out = empty(shape)
        backend.copy(view, into: out.view)
        return out.recorded(from: [self]) { [$0] }
    }

    /// This tensor if already contiguous, else a contiguous copy (gradients flow through it).
    public func contiguous() -> Tensor { isContiguous ? self : copied() }
}

/// Reseeds the global generator used by initialisers, dropout and creation functions.
public func manualSeed(_ seed: UInt64) { RandomGenerator.global.reseed(seed) }
