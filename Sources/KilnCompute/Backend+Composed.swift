// Default implementations of fused backend ops by composition of the primitive ones. A backend
// overrides them where one pass over memory pays (the CPU backend does).

extension Backend {
    /// The matrix itself: the steps read it as it is.
    package func recurrentWeight(_ matrix: StridedView, hidden: Int) -> RecurrentWeight { RecurrentWeight(matrix) }

    package func batchNorm(_ x: StridedView, batch: Int, channels: Int, spatial: Int,
                           weight: StridedView?, bias: StridedView?, runningMean: StridedView?, runningVar: StridedView?,
                           training: Bool, momentum: Float, epsilon: Float, residual: StridedView?, relu: Bool,
                           into out: Storage, saveMean: Storage, saveInvStd: Storage) {
        batchNorm(x, batch: batch, channels: channels, spatial: spatial, weight: weight, bias: bias,
                  runningMean: runningMean, runningVar: runningVar, training: training, momentum: momentum,
                  epsilon: epsilon, into: out, saveMean: saveMean, saveInvStd: saveInvStd)
        let result = StridedView(out, Layout(contiguous: x.layout.shape))  // in place: element-wise ops may alias
        if let residual { binary(.add, result, residual, into: out) }
        if relu { unary(.relu, result, into: out) }
    }

    package func batchNormBackward(_ dy: StridedView, x: StridedView, y: StridedView, relu: Bool,
                                   batch: Int, channels: Int, spatial: Int,
                                   weight: StridedView?, saveMean: Storage, saveInvStd: Storage, training: Bool,
                                   dx: Storage?, dWeight: Storage?, dBias: Storage?, dResidual: Storage?) {
        var g = dy
        if relu || dResidual != nil {
            let masked = dResidual ?? allocate(y.layout.count)
            g = StridedView(masked, Layout(contiguous: y.layout.shape))
            if relu {
                unaryBackward(.relu, x: y, y: y, dy: dy, into: masked)
            } else {
                copy(dy, into: g)
            }
        }
        batchNormBackward(g, x: x, batch: batch, channels: channels, spatial: spatial, weight: weight,
                          saveMean: saveMean, saveInvStd: saveInvStd, training: training,
                          dx: dx, dWeight: dWeight, dBias: dBias)
    }
}
