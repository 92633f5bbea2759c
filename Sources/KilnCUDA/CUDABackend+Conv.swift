import KilnCompute

// Convolutions as im2col + cuBLAS over chunks of samples (the column matrix of a chunk is kept
// under `CUDABackend.columnBudget` elements), pooling by direct kernels.

extension CUDABackend {
    /// Elements of one chunk's column matrix (256 MiB); the checks lower it to run several chunks.
    nonisolated(unsafe) package static var columnBudget = 1 << 26
}

extension Conv2dGeometry {
    /// The geometry arguments of `kiln_im2col` / `kiln_col2im` for a chunk of `samples`.
    fileprivate func arguments(samples: Int) -> [KernelArgument] {
        [samples, inChannels, height, width, groups, kernelHeight, kernelWidth, stride.h, stride.w,
         padding.h, padding.w, dilation.h, dilation.w, outHeight, outWidth].map { .int32(Int32($0)) }
    }

    /// Samples per chunk.
    fileprivate var chunk: Int { max(1, min(batch, CUDABackend.columnBudget / max(groups * patchSize * outPlane, 1))) }
}

extension Pool2dGeometry {
    fileprivate var arguments: [KernelArgument] {
        [.int64(Int64(planes))] + [height, width, outHeight, outWidth].map { .int32(Int32($0)) }
    }
    fileprivate var windowArguments: [KernelArgument] {
        [kernel.h, kernel.w, stride.h, stride.w, padding.h, padding.w].map { .int32(Int32($0)) }
    }
}

extension CUDABackend {
    /// The column matrix of samples n0 ..< n0 + samples of `x` (layout in `ConvKernels`).
    private func im2col(_ x: StridedView, _ g: Conv2dGeometry, from n0: Int, samples: Int, into col: Storage) {
        let inSample = g.inChannels * g.height * g.width
        launch(ConvKernels.source, "kiln_im2col", count: g.groups * g.patchSize * samples * g.outPlane,
               [.pointer(col.deviceAddress), .pointer(address(x.storage, x.layout.offset + n0 * inSample))]
                + g.arguments(samples: samples))
    }

    package func conv2d(_ x: StridedView, weight: StridedView, bias: StridedView?, _ g: Conv2dGeometry, into out: Storage) {
        let plane = g.outPlane, coutG = g.groupOutChannels, patch = g.patchSize
        let outSample = g.outChannels * plane
        guard g.batch > 0 && outSample > 0 else { return }
        let chunk = g.chunk
        let col = allocate(g.groups * patch * chunk * plane), t = allocate(g.outChannels * chunk * plane)
        var n0 = 0
        while n0 < g.batch {
            let s = min(chunk, g.batch - n0), columns = s * plane
            im2col(x, g, from: n0, samples: s, into: col)
            // t[group rows] = W_g · col_g: [coutG, patch] · [patch, s·plane].
            for group in 0..<g.groups {
                gemm(GemmProblem(transA: false, transB: false, m: coutG, n: columns, k: patch,
                                 a: weight.storage, aOffset: weight.layout.offset + group * coutG * patch, lda: max(patch, 1),
                                 b: col, bOffset: group * patch * columns, ldb: columns,
                                 c: t, cOffset: group * coutG * columns, ldc: columns))
            }
            launch(ConvKernels.source, "kiln_cnhw_to_nchw", count: s * outSample,
                   [.pointer(address(out, n0 * outSample)), .pointer(t.deviceAddress), optional(bias), .int32(Int32(s)),
                    .int32(Int32(g.outChannels)), .int64(Int64(plane))])
            n0 += s
        }
    }

    package func conv2dBackward(_ dy: StridedView, x: StridedView, weight: StridedView, _ g: Conv2dGeometry,
                                dx: Storage?, dWeight: Storage?, dBias: Storage?) {
        let plane = g.outPlane, coutG = g.groupOutChannels, patch = g.patchSize
        let inSample = g.inChannels * g.height * g.width, outSample = g.outChannels * plane
        if let dBias {
            if g.batch == 0 || plane == 0 {
                fill(StridedView(dBias, Layout(contiguous: [g.outChannels])), value: 0)
            } else {
                launchRows(ConvKernels.source, "kiln_channel_sum", rows: g.outChannels, cols: g.batch * plane,
                           [.pointer(dBias.deviceAddress), .pointer(dy.deviceStart), .int32(Int32(g.batch)),
                            .int32(Int32(g.outChannels)), .int64(Int64(plane))])
            }
        }
        if let dWeight, g.batch == 0 || plane == 0 {
            fill(StridedView(dWeight, Layout(contiguous: [g.outChannels * patch])), value: 0)
        }
        guard g.batch > 0 && plane > 0 && (dx != nil || dWeight != nil) else {
            if let dx, inSample > 0 { fill(StridedView(dx, Layout(contiguous: [g.batch * inSample])), value: 0) }
            return
        }
        let chunk = g.chunk
        let col = allocate(g.groups * patch * chunk * plane), t = allocate(g.outChannels * chunk * plane)
        var n0 = 0
        while n0 < g.batch {
            let s = min(chunk, g.batch - n0), columns = s * plane
            // t = dy of the chunk as [Cout, s·plane].
            launch(ConvKernels.source, "kiln_nchw_to_cnhw", count: s * outSample,
                   [.pointer(t.deviceAddress), .pointer(address(dy.storage, dy.layout.offset + n0 * outSample)),
                    .int32(Int32(s)), .int32(Int32(g.outChannels)), .int64(Int64(plane))])
            if let dWeight {
                // dW_g (+)= t_g · col_gᵀ: [coutG, s·plane] · [s·plane, patch].
                im2col(x, g, from: n0, samples: s, into: col)
                for group in 0..<g.groups {
                    gemm(GemmProblem(transA: false, transB: true, m: coutG, n: patch, k: columns, alpha: 1,
                                     beta: n0 == 0 ? 0 : 1,
                                     a: t, aOffset: group * coutG * columns, lda: columns,
                                     b: col, bOffset: group * patch * columns, ldb: columns,
                                     c: dWeight, cOffset: group * coutG * patch, ldc: max(patch, 1)))
                }
            }
            if let dx {
                // dcol_g = W_gᵀ · t_g: [patch, coutG] · [coutG, s·plane]; then the gather into dx.
                for group in 0..<g.groups {
                    gemm(GemmProblem(transA: true, transB: false, m: patch, n: columns, k: coutG,
                                     a: weight.storage, aOffset: weight.layout.offset + group * coutG * patch, lda: max(patch, 1),
                                     b: t, bOffset: group * coutG * columns, ldb: columns,
                                     c: col, cOffset: group * patch * columns, ldc: columns))
                }
                launch(ConvKernels.source, "kiln_col2im", count: s * inSample,
                       [.pointer(address(dx, n0 * inSample)), .pointer(col.deviceAddress)] + g.arguments(samples: s))
            }
            n0 += s
        }
    }

    package func maxPool2d(_ x: StridedView, _ g: Pool2dGeometry, into out: Storage, indices: Storage) {
        precondition(!g.adaptive, "maxPool2d: adaptive max pooling is not supported")
        precondition(g.height * g.width <= 1 << 24, "maxPool2d: plane of \(g.height)×\(g.width) is too large")
        launch(PoolKernels.source, "kiln_max_pool", count: g.planes * g.outHeight * g.outWidth,
               [.pointer(out.deviceAddress), .pointer(indices.deviceAddress), .pointer(x.deviceStart)]
                + g.arguments + g.windowArguments)
    }

    package func maxPool2dBackward(_ dy: StridedView, indices: Storage, _ g: Pool2dGeometry, into dx: Storage) {
        fill(StridedView(dx, Layout(contiguous: [g.planes * g.height * g.width])), value: 0)
        launch(PoolKernels.source, "kiln_max_pool_backward", count: g.planes * g.outHeight * g.outWidth,
               [.pointer(dx.deviceAddress), .pointer(dy.deviceStart), .pointer(indices.deviceAddress)] + g.arguments)
    }

    package func avgPool2d(_ x: StridedView, _ g: Pool2dGeometry, into out: Storage) {
        launch(PoolKernels.source, "kiln_avg_pool", count: g.planes * g.outHeight * g.outWidth,
               [.pointer(out.deviceAddress), .pointer(x.deviceStart)] + g.arguments + g.windowArguments
                + [.int32(g.adaptive ? 1 : 0)])
    }

    package func avgPool2dBackward(_ dy: StridedView, _ g: Pool2dGeometry, into dx: Storage) {
        fill(StridedView(dx, Layout(contiguous: [g.planes * g.height * g.width])), value: 0)
        launch(PoolKernels.source, "kiln_avg_pool_backward", count: g.planes * g.outHeight * g.outWidth,
               [.pointer(dx.deviceAddress), .pointer(dy.deviceStart)] + g.arguments + g.windowArguments
                + [.int32(g.adaptive ? 1 : 0)])
    }
}
