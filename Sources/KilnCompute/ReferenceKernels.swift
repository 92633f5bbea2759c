/// Naive kernels written for clarity, not speed: the oracle that tests hold the fast kernels to.
package enum ReferenceKernels {
    /// Row-major `[m, k] x [k, n]` product, accumulated in Double.
    package static func matmul(_ a: [Float], _ b: [Float], m: Int, k: Int, n: Int) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k { s += Double(a[i * k + p]) * Double(b[p * n + j]) }
                c[i * n + j] = Float(s)
            }
        }
        return c
    }

    /// Softmax of each row of `[rows, cols]`, in Double.
    package static func softmax(_ x: [Float], rows: Int, cols: Int) -> [Float] {
        var y = [Float](repeating: 0, count: x.count)
        for r in 0..<rows {
            let row = x[(r * cols)..<((r + 1) * cols)].map(Double.init)
            let m = row.max() ?? 0
            let e = row.map { _exp($0 - m) }
            let s = e.reduce(0, +)
            for i in 0..<cols { y[r * cols + i] = Float(e[i] / s) }
        }
        return y
    }

    /// The element of `data` (dense, row-major `shape`) at multi-index `index`.
    package static func element(_ data: [Float], shape: [Int], at index: [Int]) -> Float {
        var flat = 0
        for (i, n) in zip(index, shape) { flat = flat * n + i }
        return data[flat]
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) private func _exp(_ x: Double) -> Double { Glibc.exp(x) }
#elseif canImport(Darwin)
import Darwin
@inline(__always) private func _exp(_ x: Double) -> Double { Darwin.exp(x) }
#endif
