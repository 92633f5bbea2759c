import Foundation
import Kiln
import KilnOptim
import Testing

/// Updates worked out by hand from the textbook formulas, so that a wrong fixture cannot hide a
/// wrong rule.
@Suite("Optimizer steps by hand")
struct HandComputedTests {
    /// Runs `optimizer` over one parameter starting at `initial` with one gradient per step and
    /// returns the parameter's values after each step.
    func run(_ initial: [Float], grads: [[Float]], _ make: ([Parameter]) -> any Optimizer) -> [[Float]] {
        let parameter = Parameter(Tensor(initial, shape: [initial.count]))
        let optimizer = make([parameter])
        return grads.map { grad in
            parameter.grad = Tensor(grad, shape: [grad.count])
            optimizer.step()
            return parameter.value.scalars
        }
    }

    @Test("SGD with momentum: the first buffer is the gradient itself")
    func sgdMomentum() {
        // Step 1: b = g = [0.5, 1];            p = [1, −2] − 0.1·b = [0.95, −2.1]
        // Step 2: b = 0.9·[0.5, 1] + [1, −1] = [1.45, −0.1];  p = [0.95 − 0.145, −2.1 + 0.01]
        let after = run([1, -2], grads: [[0.5, 1], [1, -1]]) {
            SGD($0, learningRate: 0.1, momentum: 0.9)
        }
        expectClose(after[0], [0.95, -2.1], "step 1")
        expectClose(after[1], [0.805, -2.09], "step 2")
    }

    @Test("SGD with dampening: dampening applies from the second step on")
    func sgdDampening() {
        // Step 1: b = 2, p = 1 − 0.1·2 = 0.8.  Step 2: b = 0.5·2 + (1 − 0.25)·4 = 4, p = 0.8 − 0.4.
        let after = run([1], grads: [[2], [4]]) {
            SGD($0, learningRate: 0.1, momentum: 0.5, dampening: 0.25)
        }
        expectClose(after[0], [0.8], "step 1")
        expectClose(after[1], [0.4], "step 2")
    }

    @Test("SGD with Nesterov momentum and weight decay")
    func sgdNesterov() {
        // Step 1: d = 1 + 0.1·2 = 1.2, b = 1.2, d = 1.2 + 0.5·1.2 = 1.8, p = 2 − 0.18 = 1.82
        // Step 2: d = 0 + 0.1·1.82 = 0.182, b = 0.5·1.2 + 0.182 = 0.782,
        //         d = 0.182 + 0.5·0.782 = 0.573, p = 1.82 − 0.0573 = 1.7627
        let after = run([2], grads: [[1], [0]]) {
            SGD($0, learningRate: 0.1, momentum: 0.5, weightDecay: 0.1, nesterov: true)
        }
        expectClose(after[0], [1.82], "step 1")
        expectClose(after[1], [1.7627], "step 2")
    }

    @Test("Adam: the first step moves each element by the learning rate against its gradient's sign")
    func adam() {
        let g1: [Double] = [0.5, -2], g2: [Double] = [1.5, 0]
        let after = run([1, 1], grads: [g1.map(Float.init), g2.map(Float.init)]) {
            Adam($0, learningRate: 0.1)
        }
        // Step 1: m̂ = g, v̂ = g², so p − 0.1·g / (|g| + 1e-8).
        expectClose(after[0], [1 - 0.1 * 0.5 / (0.5 + 1e-8), 1 + 0.1 * 2 / (2 + 1e-8)], "step 1")
        // Step 2, from the textbook formula with bias corrections 1 − 0.9² and 1 − 0.999².
        var expected: [Double] = []
        for i in 0..<2 {
            let m = 0.9 * (0.1 * g1[i]) + 0.1 * g2[i]
            let v = 0.999 * (0.001 * g1[i] * g1[i]) + 0.001 * g2[i] * g2[i]
            let mHat = m / (1 - 0.81), vHat = v / (1 - 0.999 * 0.999)
            expected.append(Double(after[0][i]) - 0.1 * mHat / (vHat.squareRoot() + 1e-8))
        }
        expectClose(after[1], expected, relative: 1e-6, "step 2")
    }

    @Test("Adam adds weight decay to the gradient; AdamW shrinks the parameter")
    func weightDecay() {
        // Adam: the decayed gradient −0.25 + 0.5·1 = 0.25 flips the direction of the first
        // step, which moves by the learning rate against its sign: p = 1 − 0.1.
        let adam = run([1], grads: [[-0.25]]) { Adam($0, learningRate: 0.1, weightDecay: 0.5) }
        expectClose(adam[0], [0.9], "Adam")
        // AdamW: p = 1·(1 − 0.1·0.5) − 0.1·sign(−0.25) = 0.95 + 0.1.
        let adamW = run([1], grads: [[-0.25]]) { AdamW($0, learningRate: 0.1, weightDecay: 0.5) }
        expectClose(adamW[0], [1.05], "AdamW")
    }

    @Test("AMSGrad divides by the largest second moment seen so far")
    func amsgrad() {
        // β2 = 0.5: step 1 v = 0.5·4 = 2; step 2 v = 0.5·2 + 0.5·0 = 1, but v̂max = 2.
        let after = run([0], grads: [[2], [0]]) {
            Adam($0, learningRate: 1, beta1: 0.5, beta2: 0.5, epsilon: 0, amsgrad: true)
        }
        // Step 1: m = 1, m̂ = 2, v̂ = 2/0.5 = 4, p = 0 − 2/2 = −1.
        // Step 2: m = 0.5, m̂ = 0.5/0.75, √(2)/√(0.75) in the denominator.
        let step2 = -1 - (0.5 / 0.75) / ((2.0).squareRoot() / (0.75).squareRoot())
        expectClose(after[0], [-1], "step 1")
        expectClose(after[1], [step2], "step 2")
    }

    @Test("RMSprop: plain, and centered with momentum")
    func rmsprop() {
        // Plain, step 1: s = 0.01·4, p = 1 − 0.01·2 / (0.2 + 1e-8).
        let plain = run([1], grads: [[2]]) { RMSprop($0, learningRate: 0.01) }
        expectClose(plain[0], [1 - 0.01 * 2 / (0.2 + 1e-8)], "plain")
        // Centered: s = 0.01·g², a = 0.01·g, s − a² = 0.0099·g²; momentum buffer b = g / √(…).
        let g1 = 2.0, g2 = -1.0
        let centered = run([1], grads: [[Float(g1)], [Float(g2)]]) {
            RMSprop($0, learningRate: 0.01, momentum: 0.5, centered: true)
        }
        let b1 = g1 / ((0.0099 * g1 * g1).squareRoot() + 1e-8)
        let s2 = 0.99 * 0.01 * g1 * g1 + 0.01 * g2 * g2, a2 = 0.99 * 0.01 * g1 + 0.01 * g2
        let b2 = 0.5 * b1 + g2 / ((s2 - a2 * a2).squareRoot() + 1e-8)
        expectClose(centered[0], [1 - 0.01 * b1], "centered step 1")
        expectClose(centered[1], [1 - 0.01 * b1 - 0.01 * b2], "centered step 2")
    }

    @Test("Adadelta: two steps from zero averages, with weight decay")
    func adadelta() {
        // ρ = 0.5, ε = 0.01, learning rate 2, weight decay 0.25, p = 2.
        // Step 1: g = 1 + 0.25·2 = 1.5;  s = 0.5·1.5² = 1.125;  Δ = √0.01 / √1.135 · 1.5;
        //         a = 0.5·Δ²;  p = 2 − 2·Δ.
        // Step 2: g = −1 + 0.25·p;  s = 0.5·s + 0.5·g²;  Δ = √(a + 0.01) / √(s + 0.01) · g; …
        let after = run([2], grads: [[1], [-1]]) {
            Adadelta($0, learningRate: 2, rho: 0.5, epsilon: 0.01, weightDecay: 0.25)
        }
        let g1 = 1.5, s1 = 0.5 * g1 * g1
        let d1 = (0.01).squareRoot() / (s1 + 0.01).squareRoot() * g1
        let a1 = 0.5 * d1 * d1, p1 = 2 - 2 * d1
        let g2 = -1 + 0.25 * p1, s2 = 0.5 * s1 + 0.5 * g2 * g2
        let d2 = (a1 + 0.01).squareRoot() / (s2 + 0.01).squareRoot() * g2
        expectClose(after[0], [p1], "step 1")
        expectClose(after[1], [p1 - 2 * d2], "step 2")
    }
}
