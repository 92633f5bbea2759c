import KilnNN
import Testing

private final class TwoLayer: Module {
    let fc1 = Linear(4, 8, generator: RandomGenerator(seed: 1))
    let fc2 = Linear(8, 2, bias: false, generator: RandomGenerator(seed: 2))
}

private final class Block: Module, Layer {
    let fc: Linear
    let drop = Dropout(0.5)
    init(_ seed: UInt64) {
        fc = Linear(3, 3, generator: RandomGenerator(seed: seed))
        super.init()
    }
    func callAsFunction(_ input: Tensor) -> Tensor { drop(fc(input).relu()) + input }
}

private final class Net: Module {
    let scale = Parameter(Tensor([1, 1, 1]))
    let blocks = [Block(3), Block(4)]
    let head = Sequential(Linear(3, 5, generator: RandomGenerator(seed: 5)), Tanh(), Dropout(0.2),
                          Linear(5, 2, generator: RandomGenerator(seed: 6)))
    var layers: [any Layer] = [Linear(2, 2, bias: false, generator: RandomGenerator(seed: 7))]
    let unused: Parameter? = nil
}

/// Holds a parameter it is given: two of these can share one (tied weights).
private final class Holder: Module {
    let weight: Parameter
    init(_ weight: Parameter) { self.weight = weight; super.init() }
}

private final class Tied: Module {
    let embed: Holder
    let head: Holder
    override init() {
        let shared = Parameter(Tensor([1, 2, 3]))
        embed = Holder(shared)
        head = Holder(shared)
        super.init()
    }
}

private class Base: Module {
    let a = Linear(2, 2, generator: RandomGenerator(seed: 8))
}

private final class Derived: Base {
    let b = Linear(2, 1, generator: RandomGenerator(seed: 9))
}

@Suite struct ModuleTests {
    @Test func sequentialNamesByPosition() {
        let model = Sequential(Linear(4, 8), ReLU(), Dropout(0.1), Linear(8, 3), Flatten())
        #expect(model.namedParameters().map(\.0) == ["0.weight", "0.bias", "3.weight", "3.bias"])
        #expect(model.parameterCount == 4 * 8 + 8 + 8 * 3 + 3)
    }

    @Test func fieldsNameTheirParameters() {
        let model = TwoLayer()
        #expect(model.namedParameters().map(\.0) == ["fc1.weight", "fc1.bias", "fc2.weight"])
        // The very objects the layers hold, not copies.
        #expect(model.parameters()[0] === model.fc1.weight)
        #expect(model.parameters()[2] === model.fc2.weight)
        #expect(model.fc2.bias == nil)
    }

    @Test func nestedModulesAndArrays() {
        let model = Net()
        #expect(model.namedParameters().map(\.0) == [
            "scale",
            "blocks.0.fc.weight", "blocks.0.fc.bias",
            "blocks.1.fc.weight", "blocks.1.fc.bias",
            "head.0.weight", "head.0.bias", "head.3.weight", "head.3.bias",
            "layers.0.weight",
        ])
        #expect(model.namedModules().map(\.0) == [
            "", "blocks.0", "blocks.0.fc", "blocks.0.drop", "blocks.1", "blocks.1.fc", "blocks.1.drop",
            "head", "head.0", "head.1", "head.2", "head.3", "layers.0",
        ])
        #expect(model.stateDict().map(\.0) == model.namedParameters().map(\.0))
    }

    @Test func inheritedFieldsComeFirst() {
        #expect(Derived().namedParameters().map(\.0) == ["a.weight", "a.bias", "b.weight", "b.bias"])
    }

    @Test func sharedParametersAreListedOnce() {
        // As PyTorch: named_parameters() lists a tied weight once; state_dict() under every name.
        let tied = Tied()
        #expect(tied.namedParameters().map(\.0) == ["embed.weight"])
        #expect(tied.parameterCount == 3)
        #expect(tied.stateDict().map(\.0) == ["embed.weight", "head.weight"])
        let shared = Linear(2, 2)
        let model = Sequential(shared, ReLU(), shared)
        #expect(model.namedParameters().map(\.0) == ["0.weight", "0.bias"])
        #expect(model.stateDict().map(\.0) == ["0.weight", "0.bias", "2.weight", "2.bias"])
    }

    @Test func trainAndEvalReachEveryModule() {
        let model = Net()
        let dropouts = model.modules().compactMap { $0 as? Dropout }
        #expect(dropouts.count == 3)
        #expect(model.modules().allSatisfy { $0.isTraining })
        model.eval()
        #expect(model.modules().allSatisfy { !$0.isTraining })
        model.train()
        #expect(model.modules().allSatisfy { $0.isTraining })
        model.train(false)
        #expect(!model.head.layers[2].isTraining)
    }

    @Test func dropoutInsideSequentialFollowsTheMode() {
        let model = Sequential(Flatten(), Dropout(0.3, generator: RandomGenerator(seed: 10)))
        let x = Tensor.ones([100, 100])
        model.eval()
        #expect(model(x).scalars == x.scalars)
        model.train()
        let y = model(x).scalars
        let dropped = Double(y.filter { $0 == 0 }.count) / Double(y.count)
        #expect(Swift.abs(dropped - 0.3) < 0.02)
        #expect(y.allSatisfy { $0 == 0 || Swift.abs($0 - 1 / 0.7) < 1e-6 })
    }

    @Test func zeroGradClearsEveryParameter() {
        let model = TwoLayer()
        model.fc2(model.fc1(random([3, 4], seed: 11))).sum().backward()
        #expect(model.parameters().allSatisfy { $0.grad != nil })
        model.zeroGrad()
        #expect(model.parameters().allSatisfy { $0.grad == nil })
    }
}

@Suite struct StateDictTests {
    private func dictionary(_ m: Module) -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: m.stateDict().map { ($0.0, $0.1.copied()) })
    }

    private func values(_ m: Module) -> [[Float]] { m.parameters().map(\.value.scalars) }

    @Test func roundTrip() throws {
        let source = Net(), target = Net()
        for p in target.parameters() { p.assign(random(p.shape, seed: 12)) }
        #expect(values(source) != values(target))
        try target.loadStateDict(dictionary(source))
        #expect(values(source) == values(target))
        // Same function now.
        let x = random([4, 3], seed: 13)
        source.eval(); target.eval()
        #expect(source.head(source.blocks[1](x)).scalars == target.head(target.blocks[1](x)).scalars)
        // Loading copies: later changes to the source don't reach the target.
        source.scale.assign(Tensor([7, 7, 7]))
        #expect(target.scale.value.scalars == [1, 1, 1])
    }

    @Test func missingTensor() {
        let model = TwoLayer()
        let before = values(model)
        var state = dictionary(TwoLayer())
        state["fc1.weight"] = random([8, 4], seed: 14)
        state["fc1.bias"] = nil
        #expect(throws: StateDictError.missing("fc1.bias")) { try model.loadStateDict(state) }
        #expect(values(model) == before)
    }

    @Test func unexpectedTensor() {
        let model = TwoLayer()
        let before = values(model)
        var state = dictionary(TwoLayer())
        state["fc1.weight"] = random([8, 4], seed: 15)
        state["fc2.bias"] = Tensor([0, 0])
        #expect(throws: StateDictError.unexpected("fc2.bias")) { try model.loadStateDict(state) }
        #expect(values(model) == before)
    }

    @Test func shapeMismatch() {
        let model = TwoLayer()
        let before = values(model)
        var state = dictionary(TwoLayer())
        state["fc1.weight"] = random([8, 4], seed: 16)
        state["fc2.weight"] = Tensor.zeros([8, 2])
        #expect(throws: StateDictError.shapeMismatch("fc2.weight", expected: [2, 8], found: [8, 2])) {
            try model.loadStateDict(state)
        }
        #expect(values(model) == before)
        #expect(StateDictError.shapeMismatch("fc2.weight", expected: [2, 8], found: [8, 2]).description
                == "tensor 'fc2.weight': expected shape [2, 8], found [8, 2]")
    }
}
