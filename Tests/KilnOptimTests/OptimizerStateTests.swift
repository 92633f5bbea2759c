import Kiln
import KilnOptim
import Testing

/// Three parameters with deterministic values; the third only gets gradients on even steps, so
/// that some states exist for fewer steps than others (and, after one step, not at all).
private func makeParameters() -> [Parameter] {
    [Parameter(Tensor(wave(12, seed: 0.1), shape: [3, 4])),
     Parameter(Tensor(wave(4, seed: 0.7), shape: [4])),
     Parameter(Tensor(wave(6, seed: 1.3), shape: [2, 3]))]
}

/// Fills gradients for step `t` (a function of the step and the current values, like a real loss).
private func setGradients(_ parameters: [Parameter], step t: Int) {
    for (i, p) in parameters.enumerated() {
        if i == 2 && t % 2 == 1 { p.grad = nil; continue }
        let values = p.value.scalars
        let noise = wave(values.count, seed: Double(t) * 0.37 + Double(i))
        p.grad = Tensor(zip(values, noise).map { $0 * 0.5 + $1 }, shape: p.shape)
    }
}

private func bits(_ parameters: [Parameter]) -> [[UInt32]] { parameters.map { $0.value.scalars.map(\.bitPattern) } }

/// A copy of `state` whose tensors no longer share storage with the optimizer, as after a save.
private func detachedCopy(_ state: OptimizerState) -> OptimizerState {
    var copy = state
    copy.tensors = state.tensors.map { ($0.0, Tensor($0.1.scalars, shape: $0.1.shape)) }
    return copy
}

private let configurations: [(String, @Sendable ([Parameter]) -> any CheckpointableOptimizer)] = [
    ("SGD", { SGD($0, learningRate: 0.1) }),
    ("SGD momentum", { SGD($0, learningRate: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 0.01) }),
    ("SGD nesterov", { SGD($0, learningRate: 0.1, momentum: 0.9, nesterov: true) }),
    ("Adam", { Adam($0, learningRate: 0.01, weightDecay: 0.001) }),
    ("Adam amsgrad", { Adam($0, learningRate: 0.01, amsgrad: true) }),
    ("AdamW", { AdamW($0, learningRate: 0.01) }),
    ("RMSprop", { RMSprop($0, learningRate: 0.01) }),
    ("RMSprop centered momentum", { RMSprop($0, learningRate: 0.01, weightDecay: 0.01, momentum: 0.5, centered: true) }),
    ("Adadelta", { Adadelta($0, learningRate: 1.0, weightDecay: 0.01) }),
    ("OptimizerGroup", { OptimizerGroup([AdamW(Array($0.prefix(2)), learningRate: 0.01),
                                         SGD([$0[2]], learningRate: 0.1, momentum: 0.9)]) }),
]

@Suite("Optimizer state save and restore")
struct OptimizerStateTests {
    @Test("restored into a fresh optimizer, a run continues bit for bit", arguments: [1, 4])
    func continuesBitForBit(stopAfter k: Int) throws {
        for (name, make) in configurations {
            // Uninterrupted: 9 steps.
            let reference = makeParameters()
            let a = make(reference)
            for t in 0..<9 {
                setGradients(reference, step: t)
                a.learningRate *= 0.9  // a schedule: the rate must be restored too
                a.step()
            }
            // Interrupted after k steps: save, rebuild everything, restore, continue.
            let first = makeParameters()
            let b = make(first)
            for t in 0..<k {
                setGradients(first, step: t)
                b.learningRate *= 0.9
                b.step()
            }
            let saved = detachedCopy(b.saveState())
            let savedValues = first.map { Tensor($0.value.scalars, shape: $0.shape) }
            let second = makeParameters()
            for (p, v) in zip(second, savedValues) { p.assign(v) }
            let c = make(second)
            try c.loadState(saved)
            #expect(c.stepCount == k, "\(name)")
            for t in k..<9 {
                setGradients(second, step: t)
                c.learningRate *= 0.9
                c.step()
            }
            #expect(bits(second) == bits(reference), "\(name): restored run differs after stopping at \(k)")
            #expect(c.saveState().counters.map(\.1) == a.saveState().counters.map(\.1), "\(name)")
        }
    }

    @Test("names follow PyTorch's state keys, per parameter index")
    func names() {
        let parameters = makeParameters()
        let adam = Adam(parameters, amsgrad: true)
        #expect(adam.saveState().tensors.isEmpty)
        setGradients(parameters, step: 1)  // parameter 2 gets no gradient at odd steps
        adam.step()
        let state = adam.saveState()
        #expect(state.kind == "Adam" && state.stepCount == 1)
        #expect(state.tensors.map(\.0) == ["0.exp_avg", "0.exp_avg_sq", "0.max_exp_avg_sq",
                                           "1.exp_avg", "1.exp_avg_sq", "1.max_exp_avg_sq"])
        #expect(state.counters.map(\.0) == ["0.step", "1.step"])
    }

    @Test("a state that does not fit is refused and changes nothing")
    func mismatchesAreRefused() throws {
        let parameters = makeParameters()
        let adam = Adam(parameters, learningRate: 0.01)
        setGradients(parameters, step: 0)
        adam.step()
        let good = detachedCopy(adam.saveState())
        let target = Adam(makeParameters(), learningRate: 0.5)
        func expectRefusal(_ state: OptimizerState, _ error: OptimizerStateError) {
            #expect(throws: error) { try target.loadState(state) }
            #expect(target.stepCount == 0 && target.learningRate == 0.5)
            #expect(target.states.allSatisfy { $0 == nil })
        }
        expectRefusal(SGD(parameters).saveState(), .kind(expected: "Adam", found: "SGD"))
        expectRefusal(Adam(parameters, beta1: 0.8).saveState(), .hyperparameter("beta1", expected: 0.9, found: 0.8))
        var s = good
        s.tensors[5] = ("2.exp_avg_sq", Tensor.zeros([5]))
        expectRefusal(s, .shapeMismatch("2.exp_avg_sq", expected: [2, 3], found: [5]))
        s = good
        s.tensors.removeLast()
        expectRefusal(s, .missing("2.exp_avg_sq"))
        s = good
        s.tensors.append(("7.exp_avg", Tensor.zeros([1])))
        expectRefusal(s, .unexpected("7.exp_avg"))
        s = good
        s.tensors.append(("0.max_exp_avg_sq", Tensor.zeros([3, 4])))  // not kept without AMSGrad
        expectRefusal(s, .unexpected("0.max_exp_avg_sq"))
        s = good
        s.counters[0] = ("0.step", -1)
        expectRefusal(s, .invalidCounter("0.step", -1))
        try target.loadState(good)
        #expect(target.stepCount == 1 && target.learningRate == 0.01)
    }
}
