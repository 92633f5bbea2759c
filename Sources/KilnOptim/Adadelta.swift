import Kiln
import KilnCompute

/// The per-parameter state of ``Adadelta``, allocated at the parameter's first update.
///
/// The tensors are shaped like the parameter and are updated in place at every step.
public struct AdadeltaState {
    /// The number of updates applied to this parameter.
    public internal(set) var step: Int
    /// The running average of the squared gradient (PyTorch's `square_avg`).
    public let squareAvg: Tensor
    /// The running average of the squared update (PyTorch's `acc_delta`).
    public let accDelta: Tensor

    /// Zero buffers shaped like `value`, on its device.
    init(like value: Tensor) {
        step = 0
        squareAvg = value.zerosLike()
        accDelta = value.zerosLike()
    }
}

/// Adadelta (Zeiler, 2012) with optional L2 weight decay, with the semantics of PyTorch's
/// `torch.optim.Adadelta` (the optimizer of PyTorch's MNIST example).
///
/// For a parameter `p` with gradient `g`:
///
/// ```
/// g = g + weightDecay · p
/// s = ρ · s + (1 − ρ) · g²
/// Δ = √(a + ε) / √(s + ε) · g
/// a = ρ · a + (1 − ρ) · Δ²
/// p = p − learningRate · Δ
/// ```
///
/// `s` is ``AdadeltaState/squareAvg``, `a` is ``AdadeltaState/accDelta``; both start at zero, so
/// the first steps are about `√ε / |g|·g·learningRate` in size. The whole update of one parameter
/// is a single fused pass over `p`, `g`, `s` and `a`, split across threads for large parameters.
public final class Adadelta: Optimizer {
    /// The parameters updated in place, in the order given at construction.
    public let parameters: [Parameter]
    /// The factor applied to the update `Δ` by the next ``step()`` (PyTorch default `1.0`).
    public var learningRate: Float
    /// The decay rate of both running averages, `ρ` (default `0.9`).
    public let rho: Float
    /// The term added inside both square roots for numerical stability (default `1e-6`).
    public let epsilon: Float
    /// The L2 penalty coefficient added to the gradient as `weightDecay · p` (default `0`).
    public let weightDecay: Float
    /// The number of times ``step()`` has been called.
    public internal(set) var stepCount = 0
    /// One state per parameter: `nil` until the parameter's first update.
    public internal(set) var states: [AdadeltaState?]

    /// Creates an Adadelta optimizer over `parameters`; the defaults are PyTorch's.
    ///
    /// - Precondition: `learningRate`, `epsilon` and `weightDecay` are not negative, `rho` lies
    ///   in `[0, 1]`, and no parameter is listed twice.
    public init(
        _ parameters: [Parameter], learningRate: Float = 1.0, rho: Float = 0.9,
        epsilon: Float = 1e-6, weightDecay: Float = 0
    ) {
        require(learningRate >= 0, "Adadelta", "invalid learning rate \(learningRate)")
        require(rho >= 0 && rho <= 1, "Adadelta", "invalid rho \(rho), expected 0 <= rho <= 1")
        require(epsilon >= 0, "Adadelta", "invalid epsilon \(epsilon)")
        require(weightDecay >= 0, "Adadelta", "invalid weight decay \(weightDecay)")
        validateParameters(parameters, optimizer: "Adadelta")
        self.parameters = parameters
        self.learningRate = learningRate
        self.rho = rho
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.states = Array(repeating: nil, count: parameters.count)
    }

    /// Applies one Adadelta update, in place, to every parameter that has a gradient.
    public func step() {
        stepCount += 1
        // NOTE: `1 − ρ` is formed in double precision and then rounded, as PyTorch does.
        let scalars = AdadeltaScalars(
            negativeLearningRate: -learningRate, rho: rho, oneMinusRho: Float(1 - Double(rho)),
            epsilon: epsilon, weightDecay: weightDecay)
        for (index, parameter) in parameters.enumerated() {
            guard let grad = gradient(of: parameter, index: index, optimizer: "Adadelta") else { continue }
            var state = states[index] ?? AdadeltaState(like: parameter.value)
            state.step += 1
            states[index] = state
            if let fused = fusedUpdates(for: parameter) {
                fused.adadeltaUpdate(count: parameter.count, value: parameter.value.view, grad: grad.denseView,
                                     squareAvg: state.squareAvg.view, accDelta: state.accDelta.view,
                                     negativeLearningRate: scalars.negativeLearningRate, rho: scalars.rho,
                                     oneMinusRho: scalars.oneMinusRho, epsilon: scalars.epsilon,
                                     weightDecay: scalars.weightDecay)
                continue
            }
            withValueAndGradient(parameter, grad) { count, value, grad in
                state.squareAvg.withUnsafeMutableBufferPointer { squareAvg in
                    state.accDelta.withUnsafeMutableBufferPointer { accDelta in
                        adadeltaUpdate(count: count, value: value, grad: grad,
                                       squareAvg: squareAvg.baseAddress!, accDelta: accDelta.baseAddress!,
                                       scalars)
                    }
                }
            }
        }
    }
}

// MARK: - Fused kernel

/// The float32 scalars of one Adadelta step, formed as PyTorch forms them.
struct AdadeltaScalars {
    var negativeLearningRate: Float
    var rho: Float
    var oneMinusRho: Float
    var epsilon: Float
    var weightDecay: Float
}

/// Updates `count` elements of `value`, `squareAvg` and `accDelta` in place, in one pass.
func adadeltaUpdate(
    count: Int, value: UnsafeMutablePointer<Float>, grad: UnsafePointer<Float>,
    squareAvg: UnsafeMutablePointer<Float>, accDelta: UnsafeMutablePointer<Float>,
    _ scalars: AdadeltaScalars
) {
    // Large parameters are split across threads: each chunk touches only its own elements.
    parallelChunks(count, work: count * 4) { r in
        let o = r.lowerBound
        adadeltaLoop(r.count, value + o, grad + o, squareAvg + o, accDelta + o, scalars)
    }
}

/// The loop of ``adadeltaUpdate``. The operation order mirrors PyTorch's single-tensor Adadelta:
/// `mul_(ρ).addcmul_(g, g, 1 − ρ)`, `add(ε).sqrt_()` twice, `div_(std).mul_(g)`, the same
/// `addcmul_` for the accumulated update, and `add_(Δ, alpha: −lr)`.
@inline(__always)
private func adadeltaLoop(
    _ count: Int, _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
    _ s: UnsafeMutablePointer<Float>, _ a: UnsafeMutablePointer<Float>, _ k: AdadeltaScalars
) {
    let negativeLearningRate = k.negativeLearningRate, rho = k.rho, weight = k.oneMinusRho
    let epsilon = k.epsilon, weightDecay = k.weightDecay, decays = k.weightDecay != 0
    for i in 0..<count {
        let pi = p[i]
        var gi = g[i]
        if decays { gi = gi + weightDecay * pi }
        let si = s[i] * rho + (weight * gi) * gi
        s[i] = si
        let std = vectorizableSquareRoot(si + epsilon)
        let delta = vectorizableSquareRoot(a[i] + epsilon) / std * gi
        a[i] = a[i] * rho + (weight * delta) * delta
        p[i] = pi + negativeLearningRate * delta
    }
}
