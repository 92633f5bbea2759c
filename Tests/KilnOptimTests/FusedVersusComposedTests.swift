import Kiln
import KilnOptim
import Testing

/// The fused update loops against the same rules composed from Kiln's tensor ops, on buffers
/// long enough to run the vector body and the remainder of every loop (1027 elements).
@Suite("Fused updates against composed tensor ops")
struct FusedVersusComposedTests {
    static let count = 1027
    static let steps = 4

    let initial = Tensor(wave(Self.count, seed: 0.3, scale: 2), shape: [Self.count])
    let grads = (0..<Self.steps).map {
        Tensor(wave(Self.count, seed: 1.7 + Double($0), scale: 1.5), shape: [Self.count])
    }

    /// Runs the fused optimizer `make` builds over `steps` steps and returns the final values.
    func fused(_ make: (Parameter) -> any Optimizer) -> [Float] {
        let parameter = Parameter(initial)
        let optimizer = make(parameter)
        for grad in grads {
            parameter.grad = grad
            optimizer.step()
        }
        return parameter.value.scalars
    }

    /// The comparison: composed ops round differently from the fused loop, hence 1e-5.
    func expectAgree(_ fused: [Float], _ composed: Tensor, _ name: String) {
        expectClose(fused, composed.scalars.map(Double.init), relative: 1e-5, absolute: 1e-6, name)
    }

    @Test("SGD: Nesterov momentum with weight decay; momentum with dampening")
    func sgd() {
        let (lr, mu, wd): (Float, Float, Float) = (0.05, 0.9, 0.01)
        var p = initial, b: Tensor? = nil
        for g in grads {
            let d = g + p * wd
            let buffer = b.map { $0 * mu + d } ?? d
            b = buffer
            p = p - (d + buffer * mu) * lr
        }
        expectAgree(fused { SGD([$0], learningRate: lr, momentum: mu, weightDecay: wd, nesterov: true) },
                    p, "SGD Nesterov")

        p = initial
        b = nil
        for g in grads {
            let buffer = b.map { $0 * mu + g * (1 - 0.3) } ?? g
            b = buffer
            p = p - buffer * lr
        }
        expectAgree(fused { SGD([$0], learningRate: lr, momentum: mu, dampening: 0.3) }, p, "SGD dampening")
    }

    /// Adam or AdamW composed from tensor ops, with AMSGrad.
    func composedAdam(lr: Float, wd: Float, decoupled: Bool) -> Tensor {
        let (beta1, beta2, eps): (Float, Float, Float) = (0.9, 0.99, 1e-8)
        var p = initial
        var m = Tensor.zeros([Self.count]), v = m, vMax = m
        for (index, grad) in grads.enumerated() {
            let t = index + 1
            var g = grad
            if decoupled { p = p * (1 - lr * wd) } else { g = g + p * wd }
            m = m * beta1 + g * (1 - beta1)
            v = v * beta2 + g * g * (1 - beta2)
            vMax = maximum(vMax, v)
            let mHat = m / (1 - wholePower(beta1, t)), vHat = vMax / (1 - wholePower(beta2, t))
            p = p - mHat / (vHat.sqrt() + eps) * lr
        }
        return p
    }

    @Test("Adam and AdamW with AMSGrad and weight decay")
    func adam() {
        expectAgree(fused { Adam([$0], learningRate: 0.01, beta2: 0.99, weightDecay: 0.1, amsgrad: true) },
                    composedAdam(lr: 0.01, wd: 0.1, decoupled: false), "Adam")
        expectAgree(fused { AdamW([$0], learningRate: 0.01, beta2: 0.99, weightDecay: 0.1, amsgrad: true) },
                    composedAdam(lr: 0.01, wd: 0.1, decoupled: true), "AdamW")
    }

    @Test("RMSprop centered with momentum and weight decay")
    func rmsprop() {
        let (lr, alpha, eps, wd, mu): (Float, Float, Float, Float, Float) = (0.01, 0.9, 1e-8, 0.05, 0.5)
        var p = initial
        var s = Tensor.zeros([Self.count]), a = s, b = s
        for grad in grads {
            let g = grad + p * wd
            s = s * alpha + g * g * (1 - alpha)
            a = a * alpha + g * (1 - alpha)
            b = b * mu + g / ((s - a * a).sqrt() + eps)
            p = p - b * lr
        }
        expectAgree(fused {
            RMSprop([$0], learningRate: lr, alpha: alpha, epsilon: eps, weightDecay: wd,
                    momentum: mu, centered: true)
        }, p, "RMSprop")
    }

    @Test("Adadelta with weight decay")
    func adadelta() {
        let (lr, rho, eps, wd): (Float, Float, Float, Float) = (0.5, 0.95, 1e-6, 0.01)
        var p = initial
        var s = Tensor.zeros([Self.count]), a = s
        for grad in grads {
            let g = grad + p * wd
            s = s * rho + g * g * (1 - rho)
            let delta = (a + eps).sqrt() / (s + eps).sqrt() * g
            a = a * rho + delta * delta * (1 - rho)
            p = p - delta * lr
        }
        expectAgree(fused { Adadelta([$0], learningRate: lr, rho: rho, epsilon: eps, weightDecay: wd) },
                    p, "Adadelta")
    }

    @Test("Adadelta splits a large parameter across threads without changing the result")
    func adadeltaLarge() {
        // 300 000 elements: above the threshold where the update runs in chunks on several threads.
        let count = 300_000
        let values = wave(count, seed: 0.9, scale: 2)
        let parameter = Parameter(Tensor(values, shape: [count]))
        let optimizer = Adadelta([parameter], learningRate: 1, weightDecay: 0.1)
        var p = Tensor(values, shape: [count])
        var s = Tensor.zeros([count]), a = s
        for step in 0..<2 {
            let grad = Tensor(wave(count, seed: 2.1 + Double(step)), shape: [count])
            parameter.grad = grad
            optimizer.step()
            let g = grad + p * 0.1
            s = s * 0.9 + g * g * Float(1 - 0.9)
            let delta = (a + 1e-6).sqrt() / (s + 1e-6).sqrt() * g
            a = a * 0.9 + delta * delta * Float(1 - 0.9)
            p = p - delta
        }
        expectAgree(parameter.value.scalars, p, "Adadelta, 300 000 elements")
    }
}

/// `base` to a whole power, by repeated multiplication.
private func wholePower(_ base: Float, _ exponent: Int) -> Float {
    (0..<exponent).reduce(1) { product, _ in product * base }
}
