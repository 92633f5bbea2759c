import Kiln

/// The per-parameter state of ``Adam`` and ``AdamW``, allocated at the parameter's first update.
///
/// The tensors are shaped like the parameter and are updated in place at every step.
public struct AdamState {
    /// The number of updates applied to this parameter (used by its bias correction).
    public internal(set) var step: Int
    /// The running average of the gradient (PyTorch's `exp_avg`).
    public let expAvg: Tensor
    /// The running average of the squared gradient (PyTorch's `exp_avg_sq`).
    public let expAvgSq: Tensor
    /// The running maximum of ``expAvgSq`` with AMSGrad, otherwise `nil` (`max_exp_avg_sq`).
    public let maxExpAvgSq: Tensor?

    /// Zero moments shaped like `value`, on its device.
    init(like value: Tensor, amsgrad: Bool) {
        step = 0
        expAvg = value.zerosLike()
        expAvgSq = value.zerosLike()
        maxExpAvgSq = amsgrad ? value.zerosLike() : nil
    }
}

/// Adam with L2 weight decay added to the gradient, with the semantics of `torch.optim.Adam`.
///
/// For a parameter `p` with gradient `g` at its `t`-th update:
///
/// ```
/// g = g + weightDecay · p
/// m = β1 · m + (1 − β1) · g          v = β2 · v + (1 − β2) · g²
/// v̂ = amsgrad ? max(v̂, v) : v
/// p = p − (learningRate / (1 − β1ᵗ)) · m / (√v̂ / √(1 − β2ᵗ) + ε)
/// ```
///
/// One fused pass per parameter; for decoupled weight decay use ``AdamW``.
public final class Adam: Optimizer {
    /// The parameters updated in place, in the order given at construction.
    public let parameters: [Parameter]
    /// The step size used by the next ``step()`` (PyTorch default `1e-3`).
    public var learningRate: Float
    /// The decay rate of the gradient average (default `0.9`).
    public let beta1: Float
    /// The decay rate of the squared-gradient average (default `0.999`).
    public let beta2: Float
    /// The term added to the denominator for numerical stability (default `1e-8`).
    public let epsilon: Float
    /// The L2 penalty coefficient added to the gradient as `weightDecay · p` (default `0`).
    public let weightDecay: Float
    /// Whether to use the AMSGrad variant (default `false`).
    public let amsgrad: Bool
    /// The number of times ``step()`` has been called.
    public internal(set) var stepCount = 0
    /// One state per parameter: `nil` until the parameter's first update.
    public internal(set) var states: [AdamState?]

    /// Creates an Adam optimizer over `parameters`; the defaults are PyTorch's.
    ///
    /// - Precondition: `learningRate`, `epsilon`, `weightDecay` are not negative, both betas
    ///   lie in `[0, 1)`, and no parameter is listed twice.
    public init(
        _ parameters: [Parameter], learningRate: Float = 1e-3, beta1: Float = 0.9,
        beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0, amsgrad: Bool = false
    ) {
        validateAdam(parameters, learningRate, beta1, beta2, epsilon, weightDecay, optimizer: "Adam")
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.amsgrad = amsgrad
        self.states = Array(repeating: nil, count: parameters.count)
    }

    /// Applies one Adam update, in place, to every parameter that has a gradient.
    public func step() {
        stepCount += 1
        let rule = AdamRule(learningRate: learningRate, beta1: beta1, beta2: beta2,
                            epsilon: epsilon, weightDecay: weightDecay, amsgrad: amsgrad,
                            decoupledWeightDecay: false)
        rule.step(parameters, &states, optimizer: "Adam")
    }
}

/// Adam with decoupled weight decay, with the semantics of `torch.optim.AdamW`.
///
/// Identical to ``Adam`` except that weight decay shrinks the parameter directly,
/// `p = p · (1 − learningRate · weightDecay)`, before the Adam update, instead of being added
/// to the gradient. PyTorch's default weight decay for AdamW is `0.01`.
public final class AdamW: Optimizer {
    /// The parameters updated in place, in the order given at construction.
    public let parameters: [Parameter]
    /// The step size used by the next ``step()`` (PyTorch default `1e-3`).
    public var learningRate: Float
    /// The decay rate of the gradient average (default `0.9`).
    public let beta1: Float
    /// The decay rate of the squared-gradient average (default `0.999`).
    public let beta2: Float
    /// The term added to the denominator for numerical stability (default `1e-8`).
    public let epsilon: Float
    /// The decoupled weight decay coefficient (default `0.01`).
    public let weightDecay: Float
    /// Whether to use the AMSGrad variant (default `false`).
    public let amsgrad: Bool
    /// The number of times ``step()`` has been called.
    public internal(set) var stepCount = 0
    /// One state per parameter: `nil` until the parameter's first update.
    public internal(set) var states: [AdamState?]

    /// Creates an AdamW optimizer over `parameters`; the defaults are PyTorch's.
    ///
    /// - Precondition: `learningRate`, `epsilon`, `weightDecay` are not negative, both betas
    ///   lie in `[0, 1)`, and no parameter is listed twice.
    public init(
        _ parameters: [Parameter], learningRate: Float = 1e-3, beta1: Float = 0.9,
        beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 1e-2,
        amsgrad: Bool = false
    ) {
        validateAdam(parameters, learningRate, beta1, beta2, epsilon, weightDecay, optimizer: "AdamW")
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.amsgrad = amsgrad
        self.states = Array(repeating: nil, count: parameters.count)
    }

    /// Applies one AdamW update, in place, to every parameter that has a gradient.
    public func step() {
        stepCount += 1
        let rule = AdamRule(learningRate: learningRate, beta1: beta1, beta2: beta2,
                            epsilon: epsilon, weightDecay: weightDecay, amsgrad: amsgrad,
                            decoupledWeightDecay: true)
        rule.step(parameters, &states, optimizer: "AdamW")
    }
}

private func validateAdam(
    _ parameters: [Parameter], _ learningRate: Float, _ beta1: Float, _ beta2: Float,
    _ epsilon: Float, _ weightDecay: Float, optimizer: String
) {
    require(learningRate >= 0, optimizer, "invalid learning rate \(learningRate)")
    require(epsilon >= 0, optimizer, "invalid epsilon \(epsilon)")
    require(beta1 >= 0 && beta1 < 1, optimizer, "invalid beta1 \(beta1), expected 0 <= beta1 < 1")
    require(beta2 >= 0 && beta2 < 1, optimizer, "invalid beta2 \(beta2), expected 0 <= beta2 < 1")
    require(weightDecay >= 0, optimizer, "invalid weight decay \(weightDecay)")
    validateParameters(parameters, optimizer: optimizer)
}
