// The two libm functions KilnOptim needs for its per-step scalars (never inside a kernel loop),
// taken from the C library directly so that the module stays free of Foundation.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#elseif canImport(ucrt)
import ucrt
#endif

/// `base` raised to an integer power with the C library's `pow`, as Python's `float ** int`
/// does it, so bias corrections and step decays match PyTorch's double-precision scalars.
func power(_ base: Double, _ exponent: Int) -> Double {
    pow(base, Double(exponent))
}

/// The cosine of `x` radians in double precision (C library `cos`), as Python's `math.cos`.
func cosine(_ x: Double) -> Double {
    cos(x)
}

/// The IEEE square root of `x` (NaN for negative `x`), written so that loops using it vectorize.
///
/// NOTE: on Linux `Float.squareRoot()` lowers to a call of `sqrtf`, which may set `errno` for a
/// negative argument, and that call stops LLVM from vectorizing the loop around it. Once the
/// argument is visibly not negative (a negative one is replaced by NaN, whose root is NaN
/// anyway) LLVM emits its `sqrt` intrinsic instead, a single `sqrtps` per vector.
@inline(__always)
func vectorizableSquareRoot(_ x: Float) -> Float {
    (x >= 0 ? x : .nan).squareRoot()
}
