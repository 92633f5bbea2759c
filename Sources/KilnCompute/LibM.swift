#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// Thin names for the C math library, so kernels and the generator don't import it everywhere.
@inline(__always) package func _log(_ x: Double) -> Double { log(x) }
@inline(__always) package func _cos(_ x: Double) -> Double { cos(x) }
@inline(__always) package func _sin(_ x: Double) -> Double { sin(x) }
@inline(__always) package func _expf(_ x: Float) -> Float { expf(x) }
@inline(__always) package func _logf(_ x: Float) -> Float { logf(x) }
@inline(__always) package func _tanhf(_ x: Float) -> Float { tanhf(x) }
@inline(__always) package func _erff(_ x: Float) -> Float { erff(x) }
@inline(__always) package func _powf(_ x: Float, _ y: Float) -> Float { powf(x, y) }
