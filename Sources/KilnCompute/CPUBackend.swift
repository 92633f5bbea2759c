import CBLAS

/// Products below this many FLOPs run on one thread: splitting costs more than it saves.
let gemmSplitThreshold = 1 << 22

/// One single-threaded `cblas_sgemm` on an `m`×`n` block of `p`'s output.
@inline(__always)
private func sgemm(_ p: GemmProblem, _ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>,
                   _ c: UnsafeMutablePointer<Float>, m: Int, n: Int) {
    cblas_sgemm(CblasRowMajor, p.transA ? CblasTrans : CblasNoTrans, p.transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(p.k), p.alpha, a, Int32(p.lda), b, Int32(p.ldb), p.beta, c, Int32(p.ldc))
}

/// The CPU backend: OpenBLAS for matrix products, plain Swift loops for everything else.
package struct CPUBackend: Backend {
    package static let shared = CPUBackend()
    package var device: Device { .cpu }

    package func allocate(_ count: Int) -> Storage { Storage(count: count) }

    package func copy(_ src: StridedView, into dst: StridedView) {
        precondition(src.layout.shape == dst.layout.shape, "copy: shapes \(src.layout.shape) and \(dst.layout.shape) differ")
        stridedCopy(shape: src.layout.shape, to: dst.base, dst.layout.strides, dst.layout.offset,
                    from: src.base, src.layout.strides, src.layout.offset)
    }

    package func fill(_ dst: StridedView, value: Float) {
        let d = dst.base
        forEachRow(shape: dst.layout.shape, dst.layout.strides, dst.layout.offset,
                   dst.layout.strides, dst.layout.offset) { n, o, st in
            let p = d + o.0
            if st.0 == 1 { p.update(repeating: value, count: n) } else { for i in 0..<n { p[i * st.0] = value } }
        }
    }

    package func gemm(_ p: GemmProblem) {
        precondition(p.m < Int32.max && p.n < Int32.max && p.k < Int32.max, "gemm: dimension exceeds Int32")
        // NOTE: OpenBLAS runs single-threaded (see `setThreadCount`); Kiln splits each product
        // over its own threads by output rows or columns. OpenBLAS's pool busy-waits between
        // calls and fights the Swift kernels for the cores; tall-skinny shapes also split badly.
        _ = configureOpenBLAS
        let threads = openBLASThreads == nil ? threadCount() : 1
        let flops = 2 * p.m * p.n * p.k
        if Profiler.isEnabled { Profiler.addFLOPs(Double(flops * p.batch)) }
        for i in 0..<p.batch {
            let a = p.a.pointer + p.aOffset + i * p.aBatchStride
            let b = p.b.pointer + p.bOffset + i * p.bBatchStride
            let c = p.c.pointer + p.cOffset + i * p.cBatchStride
            if threads <= 1 || flops < gemmSplitThreshold || max(p.m, p.n) < 2 * threads {
                sgemm(p, a, b, c, m: p.m, n: p.n)
                continue
            }
            let splitRows = p.m >= p.n
            let extent = splitRows ? p.m : p.n
            // Chunks aligned to 16 rows/columns keep OpenBLAS's kernels on full panels.
            let chunks = min(threads, extent / 16 == 0 ? threads : extent / 16)
            forEachConcurrentChunk(chunks) { t in
                let lo = (extent * t / chunks) & ~15, hi = t == chunks - 1 ? extent : (extent * (t + 1) / chunks) & ~15
                guard lo < hi else { return }
                if splitRows {
                    let aRow = a + (p.transA ? lo : lo * p.lda)
                    sgemm(p, aRow, b, c + lo * p.ldc, m: hi - lo, n: p.n)
                } else {
                    let bCol = b + (p.transB ? lo * p.ldb : lo)
                    sgemm(p, a, bCol, c + lo, m: p.m, n: hi - lo)
                }
            }
        }
    }

    package func indexSelect(_ x: StridedView, width: Int, indices: [Int32], into out: Storage) {
        let src = x.start, dst = out.pointer
        for (i, row) in indices.enumerated() {
            (dst + i * width).update(from: src + Int(row) * width, count: width)
        }
    }

    package func indexAdd(_ dy: StridedView, width: Int, indices: [Int32], into dx: Storage) {
        let src = dy.start, dst = dx.pointer
        for (i, row) in indices.enumerated() {
            let d = dst + Int(row) * width, s = src + i * width
            for j in 0..<width { d[j] += s[j] }
        }
    }

    package func dropoutMask(count: Int, p: Float, generator: RandomGenerator, into out: Storage) {
        generator.fillDropoutMask(UnsafeMutableBufferPointer(start: out.pointer, count: count), p: p)
    }

    package func fillUniform(_ out: Storage, count: Int, low: Float, high: Float, generator: RandomGenerator) {
        generator.fillUniform(UnsafeMutableBufferPointer(start: out.pointer, count: count), low: low, high: high)
    }

    package func fillNormal(_ out: Storage, count: Int, mean: Float, std: Float, generator: RandomGenerator) {
        generator.fillNormal(UnsafeMutableBufferPointer(start: out.pointer, count: count), mean: mean, std: std)
    }
}
