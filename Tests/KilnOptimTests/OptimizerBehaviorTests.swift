import Kiln
import KilnOptim
import Testing

@Suite("Optimizer behaviour")
struct OptimizerBehaviorTests {
    @Test("defaults are PyTorch's")
    func defaults() {
        let sgd = SGD([])
        #expect(sgd.learningRate == 1e-3 && sgd.momentum == 0 && sgd.dampening == 0)
        #expect(sgd.weightDecay == 0 && !sgd.nesterov)
        let adam = Adam([])
        #expect(adam.learningRate == 1e-3 && adam.beta1 == 0.9 && adam.beta2 == 0.999)
        #expect(adam.epsilon == 1e-8 && adam.weightDecay == 0 && !adam.amsgrad)
        let adamW = AdamW([])
        #expect(adamW.learningRate == 1e-3 && adamW.beta1 == 0.9 && adamW.beta2 == 0.999)
        #expect(adamW.epsilon == 1e-8 && adamW.weightDecay == 0.01 && !adamW.amsgrad)
        let rmsprop = RMSprop([])
        #expect(rmsprop.learningRate == 1e-2 && rmsprop.alpha == 0.99 && rmsprop.epsilon == 1e-8)
        #expect(rmsprop.weightDecay == 0 && rmsprop.momentum == 0 && !rmsprop.centered)
        let adadelta = Adadelta([])
        #expect(adadelta.learningRate == 1 && adadelta.rho == 0.9 && adadelta.epsilon == 1e-6)
        #expect(adadelta.weightDecay == 0)
    }

    @Test("zeroGrad clears every gradient; stepCount counts calls to step")
    func zeroGradAndStepCount() {
        let a = Parameter(Tensor([1, 2], shape: [2])), b = Parameter(Tensor([3], shape: [1]))
        let optimizer: any Optimizer = Adam([a, b])
        a.grad = Tensor([1, 1], shape: [2])
        b.grad = Tensor([1], shape: [1])
        optimizer.step()
        optimizer.zeroGrad()
        #expect(a.grad == nil && b.grad == nil)
        optimizer.step()  // no gradients: nothing changes, but the call counts
        #expect(optimizer.stepCount == 2)
        #expect((optimizer as? Adam)?.states.map { $0?.step } == [1, 1])
    }

    @Test("updates write into the parameter's storage; state is allocated once")
    func inPlace() throws {
        let parameter = Parameter(Tensor([1, 2, 3], shape: [3]))
        let alias = parameter.value
        let optimizer = Adam([parameter], learningRate: 0.5)
        parameter.grad = Tensor([1, -1, 1], shape: [3])
        optimizer.step()
        let firstMoment = try #require(optimizer.states[0]).expAvg
        parameter.grad = Tensor([1, 1, 1], shape: [3])
        optimizer.step()
        #expect(alias.sharesStorage(with: parameter.value))
        #expect(alias.scalars == parameter.value.scalars)
        #expect(alias.scalars != [1, 2, 3])
        #expect(try #require(optimizer.states[0]).expAvg.sharesStorage(with: firstMoment))
        expectClose(firstMoment.scalars, [0.19, 0.01, 0.19], "exp_avg seen through the first tensor")
    }

    @Test("a parameter without a gradient is skipped, value and state", arguments: [
        "sgd", "adam", "adamw", "rmsprop", "adadelta",
    ])
    func skipsNilGradients(_ kind: String) {
        let a = Parameter(Tensor([1, 2], shape: [2])), b = Parameter(Tensor([3, 4], shape: [2]))
        let optimizer: any Optimizer = switch kind {
        case "sgd": SGD([a, b], learningRate: 0.1, momentum: 0.9, weightDecay: 0.1)
        case "adam": Adam([a, b], weightDecay: 0.1)
        case "adamw": AdamW([a, b], weightDecay: 0.1)
        case "adadelta": Adadelta([a, b], weightDecay: 0.1)
        default: RMSprop([a, b], weightDecay: 0.1, momentum: 0.5, centered: true)
        }
        a.grad = Tensor([1, 1], shape: [2])
        optimizer.step()
        #expect(a.value.scalars != [1, 2], "\(kind): the parameter with a gradient moves")
        #expect(b.value.scalars == [3, 4], "\(kind): the parameter without one does not decay")
        let state = stateDictionary(of: optimizer)
        #expect(!state.isEmpty && state.values.allSatisfy { $0[1] == nil }, "\(kind): no state for b")
    }

    @Test("a learning rate of zero leaves SGD's parameters alone; a new rate applies at once")
    func learningRateChanges() {
        let parameter = Parameter(Tensor([1], shape: [1]))
        let optimizer = SGD([parameter], learningRate: 0)
        parameter.grad = Tensor([1], shape: [1])
        optimizer.step()
        #expect(parameter.value.scalars == [1])
        optimizer.learningRate = 0.25
        optimizer.step()
        #expect(parameter.value.scalars == [0.75])
    }

    @Test("empty parameters are accepted")
    func emptyParameter() {
        let parameter = Parameter(Tensor.zeros([0, 3]))
        let optimizers: [any Optimizer] = [
            SGD([parameter], momentum: 0.9), Adam([parameter], amsgrad: true), AdamW([parameter]),
            RMSprop([parameter], momentum: 0.9, centered: true), Adadelta([parameter]),
        ]
        for optimizer in optimizers {
            parameter.grad = Tensor.zeros([0, 3])
            optimizer.step()
            #expect(parameter.value.count == 0)
        }
    }
}
