/// Fused optimizer updates that a device backend provides, so that a step updates a parameter and
/// its state where they live (one kernel per parameter) instead of through host copies.
///
/// The CPU backend does not adopt this: KilnOptim runs its own loops there. Every view is dense
/// (contiguous) with `count` elements; optional state is nil when the configuration keeps none.
/// Scalars are the float32 values KilnOptim's CPU loops use, formed as PyTorch forms them, and each
/// update follows those loops' order of operations.
package protocol OptimizerUpdates {
    /// SGD: `d = g + wd·p`; with `buffer`, `b = first ? d : momentum·b + (1 − dampening)·d` and
    /// `d = nesterov ? d + momentum·b : b`; then `p += −lr·d`.
    func sgdUpdate(count: Int, value: StridedView, grad: StridedView, buffer: StridedView?, firstUpdate: Bool,
                   negativeLearningRate: Float, momentum: Float, oneMinusDampening: Float,
                   weightDecay: Float, nesterov: Bool)
    /// Adam / AdamW; `maxExpAvgSq` with AMSGrad.
    func adamUpdate(count: Int, value: StridedView, grad: StridedView, expAvg: StridedView, expAvgSq: StridedView,
                    maxExpAvgSq: StridedView?, negativeStepSize: Float, biasCorrection2Sqrt: Float,
                    averagingWeight: Float, beta2: Float, oneMinusBeta2: Float, epsilon: Float,
                    l2WeightDecay: Float, decoupledDecayFactor: Float)
    /// RMSprop; `gradAvg` when centered, `buffer` with momentum.
    func rmspropUpdate(count: Int, value: StridedView, grad: StridedView, squareAvg: StridedView, gradAvg: StridedView?,
                       buffer: StridedView?, negativeLearningRate: Float, alpha: Float, oneMinusAlpha: Float,
                       epsilon: Float, weightDecay: Float, momentum: Float)
    /// Adadelta.
    func adadeltaUpdate(count: Int, value: StridedView, grad: StridedView, squareAvg: StridedView, accDelta: StridedView,
                        negativeLearningRate: Float, rho: Float, oneMinusRho: Float, epsilon: Float, weightDecay: Float)
}
