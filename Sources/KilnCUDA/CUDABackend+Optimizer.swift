import KilnCompute

// Fused optimizer updates on device storages: one kernel per parameter, in the operation order
// of KilnOptim's CPU loops. Values, gradients and state are dense `count`-element storages;
// the scalars are the float32 values those loops use (formed from Double as PyTorch forms them).

extension CUDABackend {
    /// SGD: `d = g + wd·p`; with a momentum `buffer`, `b = first ? d : momentum·b + (1 − dampening)·d`
    /// and `d = nesterov ? d + momentum·b : b`; then `p += −lr·d`.
    package func sgdUpdate(count: Int, value: Storage, grad: Storage, buffer: Storage?, firstUpdate: Bool,
                           negativeLearningRate: Float, momentum: Float, oneMinusDampening: Float,
                           weightDecay: Float, nesterov: Bool) {
        launch(OptimizerKernels.source, "kiln_sgd", count: count,
               [.pointer(value.deviceAddress), .pointer(grad.deviceAddress), optional(buffer), .int64(Int64(count)),
                .float(negativeLearningRate), .float(momentum), .float(oneMinusDampening), .float(weightDecay),
                .int32(nesterov ? 1 : 0), .int32(firstUpdate ? 1 : 0)])
    }

    /// Adam / AdamW (`maxExpAvgSq`: AMSGrad), with the scalars of KilnOptim's `AdamScalars`.
    package func adamUpdate(count: Int, value: Storage, grad: Storage, expAvg: Storage, expAvgSq: Storage,
                            maxExpAvgSq: Storage?, negativeStepSize: Float, biasCorrection2Sqrt: Float,
                            averagingWeight: Float, beta2: Float, oneMinusBeta2: Float, epsilon: Float,
                            l2WeightDecay: Float, decoupledDecayFactor: Float) {
        launch(OptimizerKernels.source, "kiln_adam", count: count,
               [.pointer(value.deviceAddress), .pointer(grad.deviceAddress), .pointer(expAvg.deviceAddress),
                .pointer(expAvgSq.deviceAddress), optional(maxExpAvgSq), .int64(Int64(count)),
                .float(negativeStepSize), .float(biasCorrection2Sqrt), .float(averagingWeight),
                .int32(averagingWeight < 0.5 ? 1 : 0), .float(beta2), .float(oneMinusBeta2), .float(epsilon),
                .float(l2WeightDecay), .float(decoupledDecayFactor)])
    }

    /// RMSprop (`gradAvg`: centered; `buffer`: momentum), `oneMinusAlpha` = 1 − α as a float32.
    package func rmspropUpdate(count: Int, value: Storage, grad: Storage, squareAvg: Storage, gradAvg: Storage?,
                               buffer: Storage?, negativeLearningRate: Float, alpha: Float, oneMinusAlpha: Float,
                               epsilon: Float, weightDecay: Float, momentum: Float) {
        launch(OptimizerKernels.source, "kiln_rmsprop", count: count,
               [.pointer(value.deviceAddress), .pointer(grad.deviceAddress), .pointer(squareAvg.deviceAddress),
                optional(gradAvg), optional(buffer), .int64(Int64(count)), .float(negativeLearningRate), .float(alpha),
                .float(oneMinusAlpha), .float(epsilon), .float(weightDecay), .float(momentum)])
    }

    /// Adadelta, `oneMinusRho` = 1 − ρ as a float32.
    package func adadeltaUpdate(count: Int, value: Storage, grad: Storage, squareAvg: Storage, accDelta: Storage,
                                negativeLearningRate: Float, rho: Float, oneMinusRho: Float, epsilon: Float,
                                weightDecay: Float) {
        launch(OptimizerKernels.source, "kiln_adadelta", count: count,
               [.pointer(value.deviceAddress), .pointer(grad.deviceAddress), .pointer(squareAvg.deviceAddress),
                .pointer(accDelta.deviceAddress), .int64(Int64(count)), .float(negativeLearningRate), .float(rho),
                .float(oneMinusRho), .float(epsilon), .float(weightDecay)])
    }
}
