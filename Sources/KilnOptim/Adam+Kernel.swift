import Kiln
import KilnCompute

/// One step of Adam or AdamW over a parameter list: the shared body of both optimizers.
struct AdamRule {
    var learningRate: Float
    var beta1: Float
    var beta2: Float
    var epsilon: Float
    var weightDecay: Float
    var amsgrad: Bool
    var decoupledWeightDecay: Bool

    /// Updates every parameter that has a gradient, allocating its state on first use.
    func step(_ parameters: [Parameter], _ states: inout [AdamState?], optimizer: String) {
        for (index, parameter) in parameters.enumerated() {
            guard let grad = gradient(of: parameter, index: index, optimizer: optimizer) else { continue }
            var state = states[index] ?? AdamState(like: parameter.value, amsgrad: amsgrad)
            state.step += 1
            states[index] = state
            let scalars = self.scalars(step: state.step)
            if let fused = fusedUpdates(for: parameter) {
                fused.adamUpdate(count: parameter.count, value: parameter.value.view, grad: grad.denseView,
                                 expAvg: state.expAvg.view, expAvgSq: state.expAvgSq.view,
                                 maxExpAvgSq: state.maxExpAvgSq?.view, negativeStepSize: scalars.negativeStepSize,
                                 biasCorrection2Sqrt: scalars.biasCorrection2Sqrt, averagingWeight: scalars.averagingWeight,
                                 beta2: scalars.beta2, oneMinusBeta2: scalars.oneMinusBeta2, epsilon: scalars.epsilon,
                                 l2WeightDecay: scalars.l2WeightDecay, decoupledDecayFactor: scalars.decoupledDecayFactor)
                continue
            }
            withValueAndGradient(parameter, grad) { count, value, grad in
                state.expAvg.withUnsafeMutableBufferPointer { expAvg in
                    state.expAvgSq.withUnsafeMutableBufferPointer { expAvgSq in
                        withOptionalState(state.maxExpAvgSq) { maxExpAvgSq in
                            adamUpdate(count: count, value: value, grad: grad,
                                       expAvg: expAvg.baseAddress!, expAvgSq: expAvgSq.baseAddress!,
                                       maxExpAvgSq: maxExpAvgSq, scalars)
                        }
                    }
                }
            }
        }
    }

    /// The float32 scalars of the `step`-th update of a parameter.
    ///
    /// NOTE: PyTorch computes the bias corrections, the step size and `1 − β` in double
    /// precision (Python floats) and rounds each to float32 only when it meets the tensor;
    /// doing the same here keeps Kiln within a few ulps of PyTorch.
    func scalars(step: Int) -> AdamScalars {
        let lr = Double(learningRate), b1 = Double(beta1), b2 = Double(beta2)
        let biasCorrection1 = 1 - power(b1, step)
        let biasCorrection2 = 1 - power(b2, step)
        let averagingWeight = Float(1 - b1)
        return AdamScalars(
            negativeStepSize: Float(-(lr / biasCorrection1)),
            biasCorrection2Sqrt: Float(biasCorrection2.squareRoot()),
            averagingWeight: averagingWeight, smallAveragingWeight: averagingWeight < 0.5,
            beta2: beta2, oneMinusBeta2: Float(1 - b2), epsilon: epsilon,
            l2WeightDecay: decoupledWeightDecay ? 0 : weightDecay,
            decoupledDecayFactor: decoupledWeightDecay ? Float(1 - lr * Double(weightDecay)) : 1)
    }
}

// MARK: - Fused kernel

/// The float32 scalars of one Adam update of one parameter, formed as PyTorch forms them.
struct AdamScalars {
    var negativeStepSize: Float
    var biasCorrection2Sqrt: Float
    /// `1 − β1`: the weight of PyTorch's `exp_avg.lerp_(grad, 1 − β1)`.
    var averagingWeight: Float
    /// Whether that weight is below 0.5, which selects the form of PyTorch's `lerp`.
    var smallAveragingWeight: Bool
    var beta2: Float
    var oneMinusBeta2: Float
    var epsilon: Float
    /// The coefficient of `p` added to the gradient (Adam), `0` for AdamW.
    var l2WeightDecay: Float
    /// `1 − lr · weightDecay` for AdamW, `1` for Adam.
    var decoupledDecayFactor: Float
}

/// Updates `count` elements of `value` and the moment buffers in place, in one pass.
/// `maxExpAvgSq` is the AMSGrad running maximum, or `nil` without AMSGrad.
func adamUpdate(
    count: Int, value: UnsafeMutablePointer<Float>, grad: UnsafePointer<Float>,
    expAvg: UnsafeMutablePointer<Float>, expAvgSq: UnsafeMutablePointer<Float>,
    maxExpAvgSq: UnsafeMutablePointer<Float>?, _ scalars: AdamScalars
) {
    // Two specialisations, so that no store in the loop is conditional and it vectorizes.
    // Large parameters are split across threads: each chunk touches only its own elements.
    parallelChunks(count, work: count * 4) { r in
        let o = r.lowerBound
        if let maxExpAvgSq {
            adamLoop(r.count, value + o, grad + o, expAvg + o, expAvgSq + o, maxExpAvgSq + o, scalars, amsgrad: true)
        } else {
            adamLoop(r.count, value + o, grad + o, expAvg + o, expAvgSq + o, expAvgSq + o, scalars, amsgrad: false)
        }
    }
}

/// The loop of ``adamUpdate``; `amsgrad` is a constant at each inlined call site and without
/// it `vmax` is never touched. The operation order mirrors PyTorch's single-tensor Adam:
/// `lerp_`, `mul_(β2).addcmul_`, `sqrt() / bc2 + ε`, `addcdiv_`.
@inline(__always)
private func adamLoop(
    _ count: Int, _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
    _ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>,
    _ vmax: UnsafeMutablePointer<Float>, _ s: AdamScalars, amsgrad: Bool
) {
    let negativeStepSize = s.negativeStepSize, biasCorrection2Sqrt = s.biasCorrection2Sqrt
    let weight = s.averagingWeight, oneMinusWeight = 1 - s.averagingWeight
    let small = s.smallAveragingWeight
    let beta2 = s.beta2, oneMinusBeta2 = s.oneMinusBeta2, epsilon = s.epsilon
    let l2 = s.l2WeightDecay, decays = s.l2WeightDecay != 0
    let decayFactor = s.decoupledDecayFactor, decouples = s.decoupledDecayFactor != 1
    for i in 0..<count {
        var pi = p[i]
        var gi = g[i]
        if decouples { pi = pi * decayFactor }
        if decays { gi = gi + l2 * pi }
        // PyTorch's lerp(start, end, w): start + w·(end − start) for w < 0.5,
        // end − (end − start)·(1 − w) otherwise.
        let mOld = m[i]
        let mi = small ? mOld + weight * (gi - mOld) : gi - (gi - mOld) * oneMinusWeight
        m[i] = mi
        let vi = v[i] * beta2 + (oneMinusBeta2 * gi) * gi
        v[i] = vi
        var vHat = vi
        if amsgrad {
            let previous = vmax[i]
            vHat = previous >= vi ? previous : vi
            vmax[i] = vHat
        }
        let denominator = vectorizableSquareRoot(vHat) / biasCorrection2Sqrt + epsilon
        p[i] = pi + (negativeStepSize * mi) / denominator
    }
}
