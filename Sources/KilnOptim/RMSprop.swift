import Kiln

/// The per-parameter state of ``RMSprop``, allocated at the parameter's first update.
///
/// The tensors are shaped like the parameter and are updated in place at every step.
public struct RMSpropState {
    /// The number of updates applied to this parameter.
    public internal(set) var step: Int
    /// The running average of the squared gradient (PyTorch's `square_avg`).
    public let squareAvg: Tensor
    /// The momentum buffer when `momentum > 0`, otherwise `nil` (`momentum_buffer`).
    public let momentumBuffer: Tensor?
    /// The running average of the gradient when centered, otherwise `nil` (`grad_avg`).
    public let gradAvg: Tensor?

    /// Zero buffers shaped like `value`, on its device.
    init(like value: Tensor, momentum: Bool, centered: Bool) {
        step = 0
        squareAvg = value.zerosLike()
        momentumBuffer = momentum ? value.zerosLike() : nil
        gradAvg = centered ? value.zerosLike() : nil
    }
}

/// RMSprop with optional momentum, centering and L2 weight decay, with the semantics of
/// PyTorch's `torch.optim.RMSprop`.
///
/// For a parameter `p` with gradient `g`:
///
/// ```
/// g = g + weightDecay · p
/// s = α · s + (1 − α) · g²
/// centered:  a = α · a + (1 − α) · g;   d = √(s − a²) + ε     otherwise: d = √s + ε
/// momentum > 0:  b = momentum · b + g / d;  p = p − learningRate · b
/// otherwise:     p = p − learningRate · g / d
/// ```
///
/// One fused pass per parameter over the parameter, its gradient and its state.
public final class RMSprop: Optimizer {
    /// The parameters updated in place, in the order given at construction.
    public let parameters: [Parameter]
    /// The step size used by the next ``step()`` (PyTorch default `1e-2`).
    public var learningRate: Float
    /// The smoothing constant of the running averages (default `0.99`).
    public let alpha: Float
    /// The term added to the denominator for numerical stability (default `1e-8`).
    public let epsilon: Float
    /// The L2 penalty coefficient added to the gradient as `weightDecay · p` (default `0`).
    public let weightDecay: Float
    /// The momentum factor; `0` (the default) disables the momentum buffer.
    public let momentum: Float
    /// Whether to normalize by the estimated variance of the gradient (default `false`).
    public let centered: Bool
    /// The number of times ``step()`` has been called.
    public internal(set) var stepCount = 0
    /// One state per parameter: `nil` until the parameter's first update.
    public internal(set) var states: [RMSpropState?]

    /// Creates an RMSprop optimizer over `parameters`; the defaults are PyTorch's.
    ///
    /// - Precondition: `learningRate`, `alpha`, `epsilon`, `weightDecay` and `momentum` are not
    ///   negative, and no parameter is listed twice.
    public init(
        _ parameters: [Parameter], learningRate: Float = 1e-2, alpha: Float = 0.99,
        epsilon: Float = 1e-8, weightDecay: Float = 0, momentum: Float = 0, centered: Bool = false
    ) {
        require(learningRate >= 0, "RMSprop", "invalid learning rate \(learningRate)")
        require(alpha >= 0, "RMSprop", "invalid alpha \(alpha)")
        require(epsilon >= 0, "RMSprop", "invalid epsilon \(epsilon)")
        require(weightDecay >= 0, "RMSprop", "invalid weight decay \(weightDecay)")
        require(momentum >= 0, "RMSprop", "invalid momentum \(momentum)")
        validateParameters(parameters, optimizer: "RMSprop")
        self.parameters = parameters
        self.learningRate = learningRate
        self.alpha = alpha
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.momentum = momentum
        self.centered = centered
        self.states = Array(repeating: nil, count: parameters.count)
    }

    /// Applies one RMSprop update, in place, to every parameter that has a gradient.
    public func step() {
        stepCount += 1
        // NOTE: `1 − α` is formed in double precision and then rounded, as PyTorch does.
        let scalars = RMSpropScalars(
            negativeLearningRate: -learningRate, alpha: alpha,
            oneMinusAlpha: Float(1 - Double(alpha)), epsilon: epsilon,
            weightDecay: weightDecay, momentum: momentum)
        for (index, parameter) in parameters.enumerated() {
            guard let grad = gradient(of: parameter, index: index, optimizer: "RMSprop") else { continue }
            var state = states[index]
                ?? RMSpropState(like: parameter.value, momentum: momentum > 0, centered: centered)
            state.step += 1
            states[index] = state
            if let fused = fusedUpdates(for: parameter) {
                fused.rmspropUpdate(count: parameter.count, value: parameter.value.view, grad: grad.denseView,
                                    squareAvg: state.squareAvg.view, gradAvg: state.gradAvg?.view,
                                    buffer: state.momentumBuffer?.view, negativeLearningRate: scalars.negativeLearningRate,
                                    alpha: scalars.alpha, oneMinusAlpha: scalars.oneMinusAlpha, epsilon: scalars.epsilon,
                                    weightDecay: scalars.weightDecay, momentum: scalars.momentum)
                continue
            }
            withValueAndGradient(parameter, grad) { count, value, grad in
                state.squareAvg.withUnsafeMutableBufferPointer { squareAvg in
                    withOptionalState(state.gradAvg) { gradAvg in
                        withOptionalState(state.momentumBuffer) { buffer in
                            rmspropUpdate(count: count, value: value, grad: grad,
                                          squareAvg: squareAvg.baseAddress!, gradAvg: gradAvg,
                                          buffer: buffer, scalars)
                        }
                    }
                }
            }
        }
    }
}

// MARK: - Fused kernel

/// The float32 scalars of one RMSprop step.
struct RMSpropScalars {
    var negativeLearningRate: Float
    var alpha: Float
    var oneMinusAlpha: Float
    var epsilon: Float
    var weightDecay: Float
    var momentum: Float
}

/// Updates `count` elements of `value` and the state buffers in place, in one pass.
/// `gradAvg` is `nil` unless centered, `buffer` is `nil` without momentum.
func rmspropUpdate(
    count: Int, value: UnsafeMutablePointer<Float>, grad: UnsafePointer<Float>,
    squareAvg: UnsafeMutablePointer<Float>, gradAvg: UnsafeMutablePointer<Float>?,
    buffer: UnsafeMutablePointer<Float>?, _ scalars: RMSpropScalars
) {
    // Four specialisations, so that no store in the loop is conditional and it vectorizes.
    // An unused buffer is passed as `squareAvg` and never touched.
    switch (gradAvg, buffer) {
    case let (gradAvg?, buffer?):
        rmspropLoop(count, value, grad, squareAvg, gradAvg, buffer, scalars, centered: true, hasMomentum: true)
    case let (gradAvg?, nil):
        rmspropLoop(count, value, grad, squareAvg, gradAvg, squareAvg, scalars, centered: true, hasMomentum: false)
    case let (nil, buffer?):
        rmspropLoop(count, value, grad, squareAvg, squareAvg, buffer, scalars, centered: false, hasMomentum: true)
    case (nil, nil):
        rmspropLoop(count, value, grad, squareAvg, squareAvg, squareAvg, scalars, centered: false, hasMomentum: false)
    }
}

/// The loop of ``rmspropUpdate``; `centered` and `hasMomentum` are constants at each inlined
/// call site. The operation order mirrors PyTorch's single-tensor RMSprop.
@inline(__always)
private func rmspropLoop(
    _ count: Int, _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
    _ sq: UnsafeMutablePointer<Float>, _ ga: UnsafeMutablePointer<Float>,
    _ b: UnsafeMutablePointer<Float>, _ s: RMSpropScalars, centered: Bool, hasMomentum: Bool
) {
    let negativeLearningRate = s.negativeLearningRate, alpha = s.alpha
    let weight = s.oneMinusAlpha, oneMinusWeight = 1 - s.oneMinusAlpha, small = s.oneMinusAlpha < 0.5
    let epsilon = s.epsilon, momentum = s.momentum
    let weightDecay = s.weightDecay, decays = s.weightDecay != 0
    for i in 0..<count {
        let pi = p[i]
        var gi = g[i]
        if decays { gi = gi + weightDecay * pi }
        let si = sq[i] * alpha + (weight * gi) * gi
        sq[i] = si
        var average: Float
        if centered {
            // PyTorch's lerp, as in Adam's first moment.
            let aOld = ga[i]
            let ai = small ? aOld + weight * (gi - aOld) : gi - (gi - aOld) * oneMinusWeight
            ga[i] = ai
            average = vectorizableSquareRoot(si - ai * ai)
        } else {
            average = vectorizableSquareRoot(si)
        }
        average = average + epsilon
        if hasMomentum {
            let bi = b[i] * momentum + gi / average
            b[i] = bi
            p[i] = pi + negativeLearningRate * bi
        } else {
            p[i] = pi + (negativeLearningRate * gi) / average
        }
    }
}
