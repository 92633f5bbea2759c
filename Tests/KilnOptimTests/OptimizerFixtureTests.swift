import Kiln
import KilnOptim
import Testing

/// optimizers.json: parameters and gradients, and PyTorch's parameters after every step.
struct OptimizerFixture: Decodable {
    struct Hyperparameters: Decodable {
        var lr: Double
        var momentum: Double?
        var dampening: Double?
        var weightDecay: Double?
        var nesterov: Bool?
        var beta1: Double?
        var beta2: Double?
        var eps: Double?
        var amsgrad: Bool?
        var alpha: Double?
        var centered: Bool?
        var rho: Double?
    }

    struct Case: Decodable, CustomTestStringConvertible {
        var name: String
        var optimizer: String
        var hyper: Hyperparameters
        /// `[step, parameter]` pairs whose gradient is nil at that step.
        var skips: [[Int]]
        /// `after[step][parameter]`: the parameter's elements after that step.
        var after: [[[Double]]]
        /// PyTorch's state names (`exp_avg`, …) to one entry per parameter, after the last step.
        var state: [String: [[Double]?]]
        var stateSteps: [Int?]?
        /// The learning rate set before each step, when it changes during the run.
        var learningRates: [Double]?

        var testDescription: String { name }
    }

    var shapes: [[Int]]
    var initial: [[Double]]
    /// `grads[step][parameter]`.
    var grads: [[[Double]]]
    var cases: [Case]
}

/// Builds the Kiln optimizer that matches a fixture case.
func makeOptimizer(_ c: OptimizerFixture.Case, _ parameters: [Parameter]) -> any Optimizer {
    let h = c.hyper
    func f(_ x: Double?, _ fallback: Float) -> Float { x.map(Float.init) ?? fallback }
    switch c.optimizer {
    case "sgd":
        return SGD(parameters, learningRate: Float(h.lr), momentum: f(h.momentum, 0),
                   dampening: f(h.dampening, 0), weightDecay: f(h.weightDecay, 0),
                   nesterov: h.nesterov ?? false)
    case "adam":
        return Adam(parameters, learningRate: Float(h.lr), beta1: f(h.beta1, 0.9),
                    beta2: f(h.beta2, 0.999), epsilon: f(h.eps, 1e-8),
                    weightDecay: f(h.weightDecay, 0), amsgrad: h.amsgrad ?? false)
    case "adamw":
        return AdamW(parameters, learningRate: Float(h.lr), beta1: f(h.beta1, 0.9),
                     beta2: f(h.beta2, 0.999), epsilon: f(h.eps, 1e-8),
                     weightDecay: f(h.weightDecay, 0.01), amsgrad: h.amsgrad ?? false)
    case "rmsprop":
        return RMSprop(parameters, learningRate: Float(h.lr), alpha: f(h.alpha, 0.99),
                       epsilon: f(h.eps, 1e-8), weightDecay: f(h.weightDecay, 0),
                       momentum: f(h.momentum, 0), centered: h.centered ?? false)
    case "adadelta":
        return Adadelta(parameters, learningRate: Float(h.lr), rho: f(h.rho, 0.9),
                        epsilon: f(h.eps, 1e-6), weightDecay: f(h.weightDecay, 0))
    default:
        preconditionFailure("unknown optimizer \(c.optimizer) in optimizers.json")
    }
}

/// The optimizer's state under PyTorch's names, one optional buffer per parameter; a name is
/// present when at least one parameter has that buffer.
func stateDictionary(of optimizer: any Optimizer) -> [String: [[Float]?]] {
    var entries: [String: [Tensor?]] = [:]
    switch optimizer {
    case let sgd as SGD:
        entries["momentum_buffer"] = sgd.momentumBuffers
    case let adam as Adam:
        entries["exp_avg"] = adam.states.map { $0?.expAvg }
        entries["exp_avg_sq"] = adam.states.map { $0?.expAvgSq }
        entries["max_exp_avg_sq"] = adam.states.map { $0?.maxExpAvgSq }
    case let adamW as AdamW:
        entries["exp_avg"] = adamW.states.map { $0?.expAvg }
        entries["exp_avg_sq"] = adamW.states.map { $0?.expAvgSq }
        entries["max_exp_avg_sq"] = adamW.states.map { $0?.maxExpAvgSq }
    case let rmsprop as RMSprop:
        entries["square_avg"] = rmsprop.states.map { $0?.squareAvg }
        entries["momentum_buffer"] = rmsprop.states.map { $0?.momentumBuffer }
        entries["grad_avg"] = rmsprop.states.map { $0?.gradAvg }
    case let adadelta as Adadelta:
        entries["square_avg"] = adadelta.states.map { $0?.squareAvg }
        entries["acc_delta"] = adadelta.states.map { $0?.accDelta }
    default:
        Issue.record("no state accessor for \(type(of: optimizer))")
    }
    return entries.filter { $0.value.contains { $0 != nil } }.mapValues { $0.map { $0?.scalars } }
}

/// The per-parameter step counts of the optimizers that keep them (nil: no state yet).
func stateSteps(of optimizer: any Optimizer) -> [Int?]? {
    switch optimizer {
    case let adam as Adam: adam.states.map { $0?.step }
    case let adamW as AdamW: adamW.states.map { $0?.step }
    case let rmsprop as RMSprop: rmsprop.states.map { $0?.step }
    case let adadelta as Adadelta: adadelta.states.map { $0?.step }
    default: nil
    }
}

@Suite("Optimizers against PyTorch")
struct OptimizerFixtureTests {
    @Test("the fixture covers every optimizer configuration")
    func coversEveryConfiguration() throws {
        let fixture = try loadFixture("optimizers.json", as: OptimizerFixture.self)
        #expect(Set(fixture.cases.map(\.optimizer)) == ["sgd", "adam", "adamw", "rmsprop", "adadelta"])
        #expect(fixture.cases.count >= 17)
        #expect(fixture.grads.count == 5)
    }

    @Test("parameters after every step and the final state match torch.optim",
          arguments: try loadFixture("optimizers.json", as: OptimizerFixture.self).cases)
    func matchesPyTorch(_ c: OptimizerFixture.Case) throws {
        let fixture = try loadFixture("optimizers.json", as: OptimizerFixture.self)
        let parameters = makeParameters(fixture.initial, shapes: fixture.shapes)
        let optimizer = makeOptimizer(c, parameters)
        let skips = Set(c.skips.map { $0[0] * 1000 + $0[1] })
        for (step, stepGrads) in fixture.grads.enumerated() {
            if let rates = c.learningRates { optimizer.learningRate = Float(rates[step]) }
            for (index, parameter) in parameters.enumerated() {
                parameter.grad = skips.contains(step * 1000 + index)
                    ? nil : Tensor(stepGrads[index].map(Float.init), shape: fixture.shapes[index])
            }
            optimizer.step()
            for (index, parameter) in parameters.enumerated() {
                expectClose(parameter.value.scalars, c.after[step][index],
                            "\(c.name): parameter \(index) after step \(step + 1)")
            }
        }
        #expect(optimizer.stepCount == fixture.grads.count)

        let state = stateDictionary(of: optimizer)
        #expect(Set(state.keys) == Set(c.state.keys), "\(c.name): state buffers")
        for (name, expected) in c.state {
            guard let actual = state[name] else { continue }
            for (index, (a, e)) in zip(actual, expected).enumerated() {
                #expect((a == nil) == (e == nil), "\(c.name): \(name)[\(index)] presence")
                // NOTE: a momentum buffer sums terms much larger than itself (rmsprop_momentum:
                // terms near 10 that cancel to 0.99), and PyTorch's GCC-built kernels fuse some
                // multiply-adds, so a state element is held to 1e-6 of its tensor's largest
                // magnitude (a normwise bound) rather than of itself.
                if let a, let e {
                    let scale = e.map(abs).max() ?? 0
                    expectClose(a, e, absolute: 1e-6 * scale, "\(c.name): \(name)[\(index)]")
                }
            }
        }
        if let expectedSteps = c.stateSteps {
            #expect(stateSteps(of: optimizer) == expectedSteps, "\(c.name): per-parameter steps")
        }
    }
}
