import KilnCompute

// Fused optimizer updates (`OptimizerUpdates`): one kernel per parameter, in the operation order
// of KilnOptim's CPU loops.

extension CUDABackend: OptimizerUpdates {
    package func sgdUpdate(count: Int, value: StridedView, grad: StridedView, buffer: StridedView?, firstUpdate: Bool,
                           negativeLearningRate: Float, momentum: Float, oneMinusDampening: Float,
                           weightDecay: Float, nesterov: Bool) {
        launch(OptimizerKernels.source, "kiln_sgd", count: count,
               [.pointer(value.deviceStart), .pointer(grad.deviceStart), optional(buffer), .int64(Int64(count)),
                .float(negativeLearningRate), .float(momentum), .float(oneMinusDampening), .float(weightDecay),
                .int32(nesterov ? 1 : 0), .int32(firstUpdate ? 1 : 0)])
    }

    package func adamUpdate(count: Int, value: StridedView, grad: StridedView, expAvg: StridedView, expAvgSq: StridedView,
                            maxExpAvgSq: StridedView?, negativeStepSize: Float, biasCorrection2Sqrt: Float,
                            averagingWeight: Float, beta2: Float, oneMinusBeta2: Float, epsilon: Float,
                            l2WeightDecay: Float, decoupledDecayFactor: Float) {
        launch(OptimizerKernels.source, "kiln_adam", count: count,
               [.pointer(value.deviceStart), .pointer(grad.deviceStart), .pointer(expAvg.deviceStart),
                .pointer(expAvgSq.deviceStart), optional(maxExpAvgSq), .int64(Int64(count)),
                .float(negativeStepSize), .float(biasCorrection2Sqrt), .float(averagingWeight),
                .int32(averagingWeight < 0.5 ? 1 : 0), .float(beta2), .float(oneMinusBeta2), .float(epsilon),
                .float(l2WeightDecay), .float(decoupledDecayFactor)])
    }

    package func rmspropUpdate(count: Int, value: StridedView, grad: StridedView, squareAvg: StridedView, gradAvg: StridedView?,
                               buffer: StridedView?, negativeLearningRate: Float, alpha: Float, oneMinusAlpha: Float,
                               epsilon: Float, weightDecay: Float, momentum: Float) {
        launch(OptimizerKernels.source, "kiln_rmsprop", count: count,
               [.pointer(value.deviceStart), .pointer(grad.deviceStart), .pointer(squareAvg.deviceStart),
                optional(gradAvg), optional(buffer), .int64(Int64(count)), .float(negativeLearningRate), .float(alpha),
                .float(oneMinusAlpha), .float(epsilon), .float(weightDecay), .float(momentum)])
    }

    package func adadeltaUpdate(count: Int, value: StridedView, grad: StridedView, squareAvg: StridedView, accDelta: StridedView,
                                negativeLearningRate: Float, rho: Float, oneMinusRho: Float, epsilon: Float,
                                weightDecay: Float) {
        launch(OptimizerKernels.source, "kiln_adadelta", count: count,
               [.pointer(value.deviceStart), .pointer(grad.deviceStart), .pointer(squareAvg.deviceStart),
                .pointer(accDelta.deviceStart), .int64(Int64(count)), .float(negativeLearningRate), .float(rho),
                .float(oneMinusRho), .float(epsilon), .float(weightDecay)])
    }
}
