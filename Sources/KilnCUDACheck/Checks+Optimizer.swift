import Kiln
import KilnCompute
import KilnOptim

// Each optimizer steps a parameter on the CPU and the same parameter on the device (where the
// steps run the fused kernels) three times with the same gradients; the values must agree.

extension Checker {
    /// Three steps of `make`'s optimizer on both devices, then the parameter values compared.
    private func steps(_ name: String, tolerance: Float, _ make: (Parameter) -> any Optimizer) {
        let count = 1000
        let start = Tensor(values(count), shape: [count])
        let onCPU = Parameter(start), onGPU = Parameter(onDevice(start))
        let cpuOptimizer = make(onCPU), gpuOptimizer = make(onGPU)
        for _ in 0..<3 {
            let g = Tensor(values(count), shape: [count])
            onCPU.grad = g
            onGPU.grad = onDevice(g)
            cpuOptimizer.step()
            gpuOptimizer.step()
        }
        compare(name, cpu: onCPU.value.scalars, gpu: gpu.read(onGPU.value.view), tolerance: tolerance)
    }

    func checkOptimizers() {
        for (momentum, nesterov, decay): (Float, Bool, Float) in [(0, false, 0), (0.9, false, 0.01), (0.9, true, 0)] {
            steps("SGD momentum \(momentum) nesterov \(nesterov) decay \(decay)", tolerance: 1e-6) {
                SGD([$0], learningRate: 0.1, momentum: momentum, weightDecay: decay, nesterov: nesterov)
            }
        }
        for amsgrad in [false, true] {
            steps("Adam amsgrad \(amsgrad)", tolerance: 1e-6) {
                Adam([$0], learningRate: 0.01, weightDecay: 0.05, amsgrad: amsgrad)
            }
            steps("AdamW amsgrad \(amsgrad)", tolerance: 1e-6) {
                AdamW([$0], learningRate: 0.01, weightDecay: 0.05, amsgrad: amsgrad)
            }
        }
        for (centered, momentum): (Bool, Float) in [(false, 0), (true, 0.9)] {
            steps("RMSprop centered \(centered) momentum \(momentum)", tolerance: 1e-5) {
                RMSprop([$0], learningRate: 0.01, weightDecay: 0.01, momentum: momentum, centered: centered)
            }
        }
        steps("Adadelta", tolerance: 1e-5) { Adadelta([$0], learningRate: 1, rho: 0.9, weightDecay: 0.01) }
    }
}
