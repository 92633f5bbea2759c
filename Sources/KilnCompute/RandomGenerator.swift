import Synchronization

/// A seedable pseudo-random generator (xoshiro256**, seeded through SplitMix64) used for
/// initialisation, dropout and shuffling. The same seed gives the same sequence on every machine.
///
/// A generator is a reference: layers and loaders that share one draw from one stream. Its methods
/// lock, so it may be shared between threads; draw in bulk (`fillUniform`) in hot paths.
public final class RandomGenerator: @unchecked Sendable {
    private let state: Mutex<(UInt64, UInt64, UInt64, UInt64)>

    /// A generator whose stream is fixed by `seed`.
    public init(seed: UInt64) {
        var s = seed
        func splitmix() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = Mutex((splitmix(), splitmix(), splitmix(), splitmix()))
    }

    /// The generator that creation functions and layers use when none is passed.
    /// Reseed it with `RandomGenerator.global.reseed(_:)` or `Kiln.manualSeed(_:)`.
    public static let global = RandomGenerator(seed: 0x4B494C4E)

    /// Restarts the stream as if the generator had been created with `seed`.
    public func reseed(_ seed: UInt64) {
        let fresh = RandomGenerator(seed: seed)
        let s = fresh.state.withLock { $0 }
        state.withLock { $0 = s }
    }

    /// The full internal state, to save and restore a stream exactly.
    public var snapshot: [UInt64] {
        get { state.withLock { [$0.0, $0.1, $0.2, $0.3] } }
        set {
            precondition(newValue.count == 4, "RandomGenerator.snapshot needs 4 words")
            state.withLock { $0 = (newValue[0], newValue[1], newValue[2], newValue[3]) }
        }
    }

    @inline(__always)
    private static func advance(_ s: inout (UInt64, UInt64, UInt64, UInt64)) -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = s.3 << 45 | s.3 >> 19
        return result
    }

    /// The next 64 random bits.
    public func next() -> UInt64 { state.withLock { Self.advance(&$0) } }

    /// A uniform float in [0, 1) with 24 random bits.
    public func nextFloat() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// A uniform integer in 0..<n (unbiased).
    public func nextInt(below n: Int) -> Int {
        precondition(n > 0, "nextInt(below:) needs n > 0, got \(n)")
        let bound = UInt64(n)
        let threshold = (0 &- bound) % bound
        while true {
            let r = next()
            let (hi, lo) = r.multipliedFullWidth(by: bound)
            if lo >= threshold { return Int(hi) }
        }
    }

    /// Shuffles `array` in place (Fisher–Yates).
    public func shuffle<T>(_ array: inout [T]) {
        if array.count < 2 { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            array.swapAt(i, nextInt(below: i + 1))
        }
    }

    /// A random permutation of 0..<n.
    public func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        shuffle(&p)
        return p
    }

    /// Fills `buffer` with uniform floats in [low, high).
    public func fillUniform(_ buffer: UnsafeMutableBufferPointer<Float>, low: Float = 0, high: Float = 1) {
        let scale = (high - low) * 0x1p-24
        state.withLock { s in
            var i = 0
            let n = buffer.count
            while i + 1 < n {
                let r = Self.advance(&s)
                buffer[i] = Float(r >> 40) * scale + low
                buffer[i + 1] = Float((r >> 8) & 0xFF_FFFF) * scale + low
                i += 2
            }
            if i < n { buffer[i] = Float(Self.advance(&s) >> 40) * scale + low }
        }
    }

    /// Fills `buffer` with normal floats (Box–Muller) of the given mean and standard deviation.
    public func fillNormal(_ buffer: UnsafeMutableBufferPointer<Float>, mean: Float = 0, std: Float = 1) {
        state.withLock { s in
            var i = 0
            let n = buffer.count
            while i < n {
                let r = Self.advance(&s)
                // u1 in (0, 1], u2 in [0, 1): 32 bits each.
                let u1 = (Double(r >> 32) + 1) * 0x1p-32
                let u2 = Double(r & 0xFFFF_FFFF) * 0x1p-32
                let radius = (-2 * _log(u1)).squareRoot()
                let angle = 2 * Double.pi * u2
                buffer[i] = Float(radius * _cos(angle)) * std + mean
                if i + 1 < n { buffer[i + 1] = Float(radius * _sin(angle)) * std + mean }
                i += 2
            }
        }
    }

    /// Fills `buffer` with a dropout mask: 0 with probability `p`, else `1 / (1 - p)`.
    public func fillDropoutMask(_ buffer: UnsafeMutableBufferPointer<Float>, p: Float) {
        // Compare 24-bit integers with a threshold: no float conversion per element.
        let threshold = UInt64(Double(p) * 0x1p24)
        let keep = 1 / (1 - p)
        state.withLock { s in
            var i = 0
            let n = buffer.count
            while i + 1 < n {
                let r = Self.advance(&s)
                buffer[i] = (r >> 40) >= threshold ? keep : 0
                buffer[i + 1] = ((r >> 8) & 0xFF_FFFF) >= threshold ? keep : 0
                i += 2
            }
            if i < n { buffer[i] = (Self.advance(&s) >> 40) >= threshold ? keep : 0 }
        }
    }
}
