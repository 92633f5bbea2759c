#if canImport(Glibc)
import Glibc
#endif
import Kiln
import KilnCompute
import KilnOptim

// The fused update kernels against KilnOptim's optimizers on CPU parameters: three steps with
// the same gradients, the device side given the scalars each optimizer forms for its step.

extension Checker {
    private func parameters(_ count: Int) -> (Parameter, Twin, [[Float]]) {
        let start = values(count)
        let parameter = Parameter(Tensor(start, shape: [count]))
        return (parameter, twin(start), (0..<3).map { _ in values(count) })
    }

    private func state(_ count: Int) -> Storage {
        let s = gpu.allocate(count)
        gpu.fill(StridedView(s, Layout(contiguous: [count])), value: 0)
        return s
    }

    func checkOptimizers() {
        let count = 1000
        for (momentum, nesterov, decay) in [(Float(0), false, Float(0)), (0.9, false, 0.01), (0.9, true, 0)] {
            let (p, device, grads) = parameters(count)
            let sgd = SGD([p], learningRate: 0.1, momentum: momentum, weightDecay: decay, nesterov: nesterov)
            let buffer = momentum != 0 ? state(count) : nil
            for (step, g) in grads.enumerated() {
                p.grad = Tensor(g, shape: [count])
                sgd.step()
                gpu.sgdUpdate(count: count, value: device.gpu, grad: twin(g).gpu, buffer: buffer, firstUpdate: step == 0,
                              negativeLearningRate: -0.1, momentum: momentum, oneMinusDampening: 1, weightDecay: decay,
                              nesterov: nesterov)
            }
            compare("SGD momentum \(momentum) nesterov \(nesterov) decay \(decay)", cpu: p.value.scalars,
                    gpu: self.device(device.gpu, count), tolerance: 1e-6)
        }

        for (decoupled, amsgrad) in [(false, false), (true, false), (false, true)] {
            let (p, device, grads) = parameters(count)
            let (lr, b1, b2, eps, wd): (Float, Float, Float, Float, Float) = (0.01, 0.9, 0.999, 1e-8, 0.05)
            let optimizer: any Optimizer = decoupled
                ? AdamW([p], learningRate: lr, beta1: b1, beta2: b2, epsilon: eps, weightDecay: wd, amsgrad: amsgrad)
                : Adam([p], learningRate: lr, beta1: b1, beta2: b2, epsilon: eps, weightDecay: wd, amsgrad: amsgrad)
            let m = state(count), v = state(count), vmax = amsgrad ? state(count) : nil
            for (index, g) in grads.enumerated() {
                p.grad = Tensor(g, shape: [count])
                optimizer.step()
                let step = Double(index + 1)
                gpu.adamUpdate(count: count, value: device.gpu, grad: twin(g).gpu, expAvg: m, expAvgSq: v, maxExpAvgSq: vmax,
                               negativeStepSize: Float(-(Double(lr) / (1 - pow(Double(b1), step)))),
                               biasCorrection2Sqrt: Float((1 - pow(Double(b2), step)).squareRoot()),
                               averagingWeight: Float(1 - Double(b1)), beta2: b2, oneMinusBeta2: Float(1 - Double(b2)),
                               epsilon: eps, l2WeightDecay: decoupled ? 0 : wd,
                               decoupledDecayFactor: decoupled ? Float(1 - Double(lr) * Double(wd)) : 1)
            }
            compare("\(decoupled ? "AdamW" : "Adam") amsgrad \(amsgrad)", cpu: p.value.scalars,
                    gpu: self.device(device.gpu, count), tolerance: 1e-6)
        }

        for (centered, momentum) in [(false, Float(0)), (true, 0.9)] {
            let (p, device, grads) = parameters(count)
            let rms = RMSprop([p], learningRate: 0.01, alpha: 0.99, epsilon: 1e-8, weightDecay: 0.01, momentum: momentum,
                              centered: centered)
            let square = state(count), average = centered ? state(count) : nil, buffer = momentum > 0 ? state(count) : nil
            for g in grads {
                p.grad = Tensor(g, shape: [count])
                rms.step()
                gpu.rmspropUpdate(count: count, value: device.gpu, grad: twin(g).gpu, squareAvg: square, gradAvg: average,
                                  buffer: buffer, negativeLearningRate: -0.01, alpha: 0.99,
                                  oneMinusAlpha: Float(1 - Double(Float(0.99))), epsilon: 1e-8, weightDecay: 0.01,
                                  momentum: momentum)
            }
            compare("RMSprop centered \(centered) momentum \(momentum)", cpu: p.value.scalars,
                    gpu: self.device(device.gpu, count), tolerance: 1e-5)
        }

        let (p, device, grads) = parameters(count)
        let adadelta = Adadelta([p], learningRate: 1, rho: 0.9, epsilon: 1e-6, weightDecay: 0.01)
        let square = state(count), accumulated = state(count)
        for g in grads {
            p.grad = Tensor(g, shape: [count])
            adadelta.step()
            gpu.adadeltaUpdate(count: count, value: device.gpu, grad: twin(g).gpu, squareAvg: square, accDelta: accumulated,
                               negativeLearningRate: -1, rho: 0.9, oneMinusRho: Float(1 - Double(Float(0.9))),
                               epsilon: 1e-6, weightDecay: 0.01)
        }
        compare("Adadelta", cpu: p.value.scalars, gpu: self.device(device.gpu, count), tolerance: 1e-5)
    }
}
