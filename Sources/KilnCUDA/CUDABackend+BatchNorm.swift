import KilnCompute

extension CUDABackend {
    package func batchNorm(_ x: StridedView, batch: Int, channels: Int, spatial: Int,
                           weight: StridedView?, bias: StridedView?, runningMean: StridedView?, runningVar: StridedView?,
                           training: Bool, momentum: Float, epsilon: Float,
                           into out: Storage, saveMean: Storage, saveInvStd: Storage) {
        precondition(training || (runningMean != nil && runningVar != nil), "batchNorm: evaluation needs running statistics")
        guard channels > 0 else { return }
        if training {
            launchRows(BatchNormKernels.source, "kiln_batch_norm_stats", rows: channels, cols: batch * spatial,
                       [.pointer(saveMean.deviceAddress), .pointer(saveInvStd.deviceAddress), optional(runningMean),
                        optional(runningVar), .pointer(x.deviceStart), .int32(Int32(batch)), .int32(Int32(channels)),
                        .int64(Int64(spatial)), .float(momentum), .float(epsilon)])
        } else {
            launch(BatchNormKernels.source, "kiln_batch_norm_eval_stats", count: channels,
                   [.pointer(saveMean.deviceAddress), .pointer(saveInvStd.deviceAddress), optional(runningMean),
                    optional(runningVar), .int32(Int32(channels)), .float(epsilon)])
        }
        let total = batch * channels * spatial
        launch(BatchNormKernels.source, "kiln_batch_norm_apply", count: total,
               [.pointer(out.deviceAddress), .pointer(x.deviceStart), .pointer(saveMean.deviceAddress),
                .pointer(saveInvStd.deviceAddress), optional(weight), optional(bias), .int32(Int32(channels)),
                .int64(Int64(spatial)), .int64(Int64(total))])
    }

    package func batchNormBackward(_ dy: StridedView, x: StridedView, batch: Int, channels: Int, spatial: Int,
                                   weight: StridedView?, saveMean: Storage, saveInvStd: Storage, training: Bool,
                                   dx: Storage?, dWeight: Storage?, dBias: Storage?) {
        guard channels > 0 else { return }
        let coefficients = allocate(3 * channels)
        launchRows(BatchNormKernels.source, "kiln_batch_norm_backward_stats", rows: channels, cols: batch * spatial,
                   [.pointer(coefficients.deviceAddress), optional(dWeight), optional(dBias), .pointer(dy.deviceStart),
                    .pointer(x.deviceStart), .pointer(saveMean.deviceAddress), .pointer(saveInvStd.deviceAddress),
                    optional(weight), .int32(Int32(batch)), .int32(Int32(channels)), .int64(Int64(spatial)),
                    .int32(training ? 1 : 0)])
        guard let dx else { return }
        let total = batch * channels * spatial
        launch(BatchNormKernels.source, "kiln_batch_norm_backward_apply", count: total,
               [.pointer(dx.deviceAddress), .pointer(dy.deviceStart), .pointer(x.deviceStart),
                .pointer(coefficients.deviceAddress), .int32(Int32(channels)), .int64(Int64(spatial)),
                .int64(Int64(total))])
    }
}
