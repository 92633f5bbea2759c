// Host reads and writes of views: on the CPU these are strided copies into or out of an array.
// Device backends implement the same two methods with transfers, which is how a tensor moves
// between devices (`Tensor.to(_:)`) and how host accessors (`scalars`, `item`) see device tensors.

extension CPUBackend {
    package func read(_ src: StridedView) -> [Float] {
        let count = src.layout.count
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 {
                let dense = Layout(contiguous: src.layout.shape)
                stridedCopy(shape: dense.shape, to: buffer.baseAddress!, dense.strides, 0,
                            from: src.base, src.layout.strides, src.layout.offset)
            }
            initialized = count
        }
    }

    package func write(_ values: [Float], into dst: StridedView) {
        precondition(values.count == dst.layout.count,
                     "write: \(values.count) values for a view of shape \(dst.layout.shape)")
        guard !values.isEmpty else { return }
        let dense = Layout(contiguous: dst.layout.shape)
        values.withUnsafeBufferPointer { v in
            stridedCopy(shape: dense.shape, to: dst.base, dst.layout.strides, dst.layout.offset,
                        from: UnsafeMutablePointer(mutating: v.baseAddress!), dense.strides, 0)
        }
    }
}

/// `dst[i] = src[i]` for every index of `shape`, each side with its own strides and offset.
package func stridedCopy(shape: [Int], to d: UnsafeMutablePointer<Float>, _ dStrides: [Int], _ dOffset: Int,
                         from s: UnsafeMutablePointer<Float>, _ sStrides: [Int], _ sOffset: Int) {
    forEachRow(shape: shape, dStrides, dOffset, sStrides, sOffset) { n, o, st in
        let po = d + o.0, pi = s + o.1
        if st.0 == 1 && st.1 == 1 {
            po.update(from: pi, count: n)
        } else {
            for i in 0..<n { po[i * st.0] = pi[i * st.1] }
        }
    }
}
