import Kiln

/// Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and L2
/// weight decay, with the exact semantics of PyTorch's `torch.optim.SGD`.
///
/// For a parameter `p` with gradient `g`, one step is:
///
/// ```
/// d = g + weightDecay · p
/// if momentum ≠ 0:
///     b = d                                     on this parameter's first update
///     b = momentum · b + (1 − dampening) · d    afterwards
///     d = nesterov ? d + momentum · b : b
/// p = p − learningRate · d
/// ```
///
/// The whole update of one parameter is a single fused pass over `p`, `g` and `b`.
public final class SGD: Optimizer {
    /// The parameters updated in place, in the order given at construction.
    public let parameters: [Parameter]
    /// The step size used by the next ``step()`` (PyTorch default `1e-3`).
    public var learningRate: Float
    /// The momentum factor; `0` (the default) disables the momentum buffer.
    public let momentum: Float
    /// The dampening of the gradient added to the momentum buffer (default `0`).
    public let dampening: Float
    /// The L2 penalty coefficient added to the gradient as `weightDecay · p` (default `0`).
    public let weightDecay: Float
    /// Whether to use Nesterov momentum (needs `momentum > 0` and `dampening == 0`).
    public let nesterov: Bool
    /// The number of times ``step()`` has been called.
    public internal(set) var stepCount = 0
    /// One momentum buffer per parameter, shaped like it: `nil` until the parameter's first
    /// update with `momentum ≠ 0`, and always `nil` when `momentum == 0`.
    public internal(set) var momentumBuffers: [Tensor?]

    /// Creates an SGD optimizer over `parameters`; the defaults are PyTorch's.
    ///
    /// - Precondition: `learningRate`, `momentum` and `weightDecay` are not negative; Nesterov
    ///   momentum needs `momentum > 0` and `dampening == 0`; no parameter is listed twice.
    public init(
        _ parameters: [Parameter], learningRate: Float = 1e-3, momentum: Float = 0,
        dampening: Float = 0, weightDecay: Float = 0, nesterov: Bool = false
    ) {
        require(learningRate >= 0, "SGD", "invalid learning rate \(learningRate)")
        require(momentum >= 0, "SGD", "invalid momentum \(momentum)")
        require(weightDecay >= 0, "SGD", "invalid weight decay \(weightDecay)")
        require(!nesterov || (momentum > 0 && dampening == 0), "SGD",
                "Nesterov momentum requires momentum > 0 and zero dampening (got momentum \(momentum), dampening \(dampening))")
        validateParameters(parameters, optimizer: "SGD")
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        self.momentumBuffers = Array(repeating: nil, count: parameters.count)
    }

    /// Applies one SGD update, in place, to every parameter that has a gradient.
    public func step() {
        stepCount += 1
        let scalars = SGDScalars(
            negativeLearningRate: -learningRate, momentum: momentum,
            // PyTorch forms `1 - dampening` as a Python float, then rounds it to float32.
            oneMinusDampening: Float(1 - Double(dampening)),
            weightDecay: weightDecay, nesterov: nesterov)
        for (index, parameter) in parameters.enumerated() {
            guard let grad = gradient(of: parameter, index: index, optimizer: "SGD") else { continue }
            var firstUpdate = false
            if momentum != 0 && momentumBuffers[index] == nil {
                momentumBuffers[index] = parameter.value.zerosLike()
                firstUpdate = true
            }
            if let fused = fusedUpdates(for: parameter) {
                fused.sgdUpdate(count: parameter.count, value: parameter.value.view, grad: grad.denseView,
                                buffer: momentumBuffers[index]?.view, firstUpdate: firstUpdate,
                                negativeLearningRate: scalars.negativeLearningRate, momentum: scalars.momentum,
                                oneMinusDampening: scalars.oneMinusDampening, weightDecay: scalars.weightDecay,
                                nesterov: scalars.nesterov)
                continue
            }
            withValueAndGradient(parameter, grad) { count, value, grad in
                withOptionalState(momentumBuffers[index]) { buffer in
                    sgdUpdate(count: count, value: value, grad: grad, buffer: buffer,
                              firstUpdate: firstUpdate, scalars)
                }
            }
        }
    }
}

// MARK: - Fused kernel

/// The float32 scalars of one SGD step, formed as PyTorch forms them.
struct SGDScalars {
    var negativeLearningRate: Float
    var momentum: Float
    var oneMinusDampening: Float
    var weightDecay: Float
    var nesterov: Bool
}

/// Updates `count` elements of `value` in place; `buffer` is the momentum buffer, or `nil`
/// without momentum. On the first update the buffer's old contents are ignored.
func sgdUpdate(
    count: Int, value: UnsafeMutablePointer<Float>, grad: UnsafePointer<Float>,
    buffer: UnsafeMutablePointer<Float>?, firstUpdate: Bool, _ scalars: SGDScalars
) {
    // Two specialisations, so that no store in the loop is conditional and it vectorizes.
    if let buffer {
        sgdLoop(count, value, grad, buffer, firstUpdate, scalars, hasMomentum: true)
    } else {
        sgdLoop(count, value, grad, value, firstUpdate, scalars, hasMomentum: false)
    }
}

/// The loop of ``sgdUpdate``; `hasMomentum` is a constant at each inlined call site. Without
/// momentum `buffer` is never touched. The operation order mirrors PyTorch's kernels.
@inline(__always)
private func sgdLoop(
    _ count: Int, _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
    _ b: UnsafeMutablePointer<Float>, _ firstUpdate: Bool, _ s: SGDScalars, hasMomentum: Bool
) {
    let weightDecay = s.weightDecay, momentum = s.momentum
    let oneMinusDampening = s.oneMinusDampening, negativeLearningRate = s.negativeLearningRate
    let nesterov = s.nesterov, decays = weightDecay != 0
    for i in 0..<count {
        let pi = p[i]
        var d = g[i]
        if decays { d = d + weightDecay * pi }
        if hasMomentum {
            // Load unconditionally: a load inside the `?:` would keep the loop from vectorizing.
            let bOld = b[i]
            let bi = firstUpdate ? d : bOld * momentum + oneMinusDampening * d
            b[i] = bi
            d = nesterov ? d + momentum * bi : bi
        }
        p[i] = pi + negativeLearningRate * d
    }
}
