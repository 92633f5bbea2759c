import Kiln

/// Everything an optimizer carries from one step to the next, in a form that can be saved and
/// restored exactly (a checkpoint stores it as one safetensors file).
///
/// Per-parameter entries are named `"INDEX.KEY"`, where `INDEX` is the parameter's position in
/// ``Optimizer/parameters`` and `KEY` is PyTorch's name for the state (`exp_avg`, `exp_avg_sq`,
/// `max_exp_avg_sq`, `momentum_buffer`, `square_avg`, `grad_avg`, `acc_delta`, and the counter
/// `step`). A parameter that has not been updated yet has no entries, as in PyTorch.
///
/// The tensors of ``CheckpointableOptimizer/saveState()`` share storage with the optimizer:
/// serialize them before the next step.
public struct OptimizerState: Sendable {
    /// The optimizer's type, e.g. `"Adam"`; restoring into another type fails.
    public var kind: String
    /// The number of ``Optimizer/step()`` calls so far.
    public var stepCount: Int
    /// The learning rate of the next step.
    public var learningRate: Float
    /// The hyperparameters fixed at construction, by name; restoring checks they are equal.
    public var hyperparameters: [(String, Float)]
    /// Per-parameter tensors, `"INDEX.KEY"`, in parameter order.
    public var tensors: [(String, Tensor)]
    /// Per-parameter counters, `"INDEX.KEY"`, in parameter order.
    public var counters: [(String, Int)]

    /// A state.
    public init(kind: String, stepCount: Int, learningRate: Float, hyperparameters: [(String, Float)],
                tensors: [(String, Tensor)], counters: [(String, Int)]) {
        self.kind = kind
        self.stepCount = stepCount
        self.learningRate = learningRate
        self.hyperparameters = hyperparameters
        self.tensors = tensors
        self.counters = counters
    }
}

/// An optimizer whose state can be saved and restored, so that a run stopped after `k` steps
/// and restored into a fresh optimizer over the same parameters continues bit for bit as if it
/// had never stopped.
public protocol CheckpointableOptimizer: Optimizer {
    /// The current state (tensors shared with the optimizer, not copied).
    func saveState() -> OptimizerState

    /// Replaces the state with `state`, all or nothing: every tensor is checked (kind,
    /// hyperparameters, names, shapes) before anything changes.
    func loadState(_ state: OptimizerState) throws(OptimizerStateError)
}

/// Why a saved optimizer state does not fit an optimizer.
public enum OptimizerStateError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The state was saved by another kind of optimizer.
    case kind(expected: String, found: String)
    /// A hyperparameter differs (or is missing: `found` is nil).
    case hyperparameter(String, expected: Float, found: Float?)
    /// A tensor or counter the optimizer needs is absent.
    case missing(String)
    /// An entry the optimizer does not know (a bad name, an index past the parameters, a state
    /// this configuration doesn't keep).
    case unexpected(String)
    /// A tensor's shape differs from its parameter's.
    case shapeMismatch(String, expected: [Int], found: [Int])
    /// A counter is out of range (negative step counts).
    case invalidCounter(String, Int)

    /// A message naming the entry and what was expected and found.
    public var description: String {
        switch self {
        case .kind(let e, let f): "optimizer state is for \(f), expected \(e)"
        case .hyperparameter(let n, let e, let f):
            "optimizer hyperparameter \(n): expected \(e), found \(f.map { "\($0)" } ?? "none")"
        case .missing(let n): "optimizer state has no '\(n)'"
        case .unexpected(let n): "optimizer state has '\(n)', which this optimizer doesn't keep"
        case .shapeMismatch(let n, let e, let f): "optimizer state '\(n)': expected shape \(e), found \(f)"
        case .invalidCounter(let n, let v): "optimizer state '\(n)': invalid count \(v)"
        }
    }
}

/// Checks a saved state against an optimizer and hands out its per-parameter entries, each once.
struct OptimizerStateReader {
    private let parameters: [Parameter]
    private var tensors: [String: Tensor] = [:]
    private var counters: [String: Int] = [:]
    /// The state's entries, grouped by parameter index.
    private(set) var indices = Set<Int>()

    /// Checks kind, hyperparameters and entry names of `state` for an optimizer of `kind`.
    init(_ state: OptimizerState, kind: String, hyperparameters: [(String, Float)],
         parameters: [Parameter]) throws(OptimizerStateError) {
        guard state.kind == kind else { throw .kind(expected: kind, found: state.kind) }
        let saved = Dictionary(state.hyperparameters, uniquingKeysWith: { a, _ in a })
        for (name, value) in hyperparameters where saved[name]?.bitPattern != value.bitPattern {
            throw .hyperparameter(name, expected: value, found: saved[name])
        }
        guard state.stepCount >= 0 else { throw .invalidCounter("stepCount", state.stepCount) }
        self.parameters = parameters
        for (name, tensor) in state.tensors {
            let index = try Self.index(name, parameterCount: parameters.count)
            guard tensors.updateValue(tensor, forKey: name) == nil else { throw .unexpected(name) }
            indices.insert(index)
        }
        for (name, value) in state.counters {
            let index = try Self.index(name, parameterCount: parameters.count)
            guard value >= 0 else { throw .invalidCounter(name, value) }
            guard counters.updateValue(value, forKey: name) == nil else { throw .unexpected(name) }
            indices.insert(index)
        }
    }

    private static func index(_ name: String, parameterCount: Int) throws(OptimizerStateError) -> Int {
        guard let dot = name.firstIndex(of: "."), let index = Int(name[..<dot]), index >= 0,
              index < parameterCount, String(index) == name[..<dot] else { throw .unexpected(name) }
        return index
    }

    /// A copy of tensor `"index.key"`, checked against the parameter's shape.
    mutating func tensor(_ index: Int, _ key: String) throws(OptimizerStateError) -> Tensor {
        let name = "\(index).\(key)"
        guard let tensor = tensors.removeValue(forKey: name) else { throw .missing(name) }
        let shape = parameters[index].shape
        guard tensor.shape == shape else { throw .shapeMismatch(name, expected: shape, found: tensor.shape) }
        let copy = parameters[index].value.zerosLike()
        copy.assign(tensor)
        return copy
    }

    /// Counter `"index.key"`.
    mutating func counter(_ index: Int, _ key: String) throws(OptimizerStateError) -> Int {
        let name = "\(index).\(key)"
        guard let value = counters.removeValue(forKey: name) else { throw .missing(name) }
        return value
    }

    /// Fails if an entry was not asked for.
    func finish() throws(OptimizerStateError) {
        if let name = (tensors.keys.sorted() + counters.keys.sorted()).first { throw .unexpected(name) }
    }
}

extension SGD: CheckpointableOptimizer {
    private var hyperparameters: [(String, Float)] {
        [("momentum", momentum), ("dampening", dampening), ("weight_decay", weightDecay),
         ("nesterov", nesterov ? 1 : 0)]
    }

    /// Momentum buffers as `"INDEX.momentum_buffer"`.
    public func saveState() -> OptimizerState {
        let tensors = momentumBuffers.enumerated().compactMap { i, b in b.map { ("\(i).momentum_buffer", $0) } }
        return OptimizerState(kind: "SGD", stepCount: stepCount, learningRate: learningRate,
                              hyperparameters: hyperparameters, tensors: tensors, counters: [])
    }

    /// Restores the momentum buffers, step count and learning rate.
    public func loadState(_ state: OptimizerState) throws(OptimizerStateError) {
        var reader = try OptimizerStateReader(state, kind: "SGD", hyperparameters: hyperparameters,
                                              parameters: parameters)
        var buffers = [Tensor?](repeating: nil, count: parameters.count)
        for i in reader.indices.sorted() { buffers[i] = try reader.tensor(i, "momentum_buffer") }
        try reader.finish()
        momentumBuffers = buffers
        stepCount = state.stepCount
        learningRate = state.learningRate
    }
}

extension Adam: CheckpointableOptimizer {
    private var hyperparameters: [(String, Float)] {
        adamHyperparameters(beta1, beta2, epsilon, weightDecay, amsgrad)
    }

    /// `"INDEX.step"`, `"INDEX.exp_avg"`, `"INDEX.exp_avg_sq"` (and `"INDEX.max_exp_avg_sq"`).
    public func saveState() -> OptimizerState {
        let (tensors, counters) = saveAdamStates(states)
        return OptimizerState(kind: "Adam", stepCount: stepCount, learningRate: learningRate,
                              hyperparameters: hyperparameters, tensors: tensors, counters: counters)
    }

    /// Restores the moments, step counts and learning rate.
    public func loadState(_ state: OptimizerState) throws(OptimizerStateError) {
        var reader = try OptimizerStateReader(state, kind: "Adam", hyperparameters: hyperparameters,
                                              parameters: parameters)
        states = try loadAdamStates(&reader, count: parameters.count, amsgrad: amsgrad)
        stepCount = state.stepCount
        learningRate = state.learningRate
    }
}

extension AdamW: CheckpointableOptimizer {
    private var hyperparameters: [(String, Float)] {
        adamHyperparameters(beta1, beta2, epsilon, weightDecay, amsgrad)
    }

    /// `"INDEX.step"`, `"INDEX.exp_avg"`, `"INDEX.exp_avg_sq"` (and `"INDEX.max_exp_avg_sq"`).
    public func saveState() -> OptimizerState {
        let (tensors, counters) = saveAdamStates(states)
        return OptimizerState(kind: "AdamW", stepCount: stepCount, learningRate: learningRate,
                              hyperparameters: hyperparameters, tensors: tensors, counters: counters)
    }

    /// Restores the moments, step counts and learning rate.
    public func loadState(_ state: OptimizerState) throws(OptimizerStateError) {
        var reader = try OptimizerStateReader(state, kind: "AdamW", hyperparameters: hyperparameters,
                                              parameters: parameters)
        states = try loadAdamStates(&reader, count: parameters.count, amsgrad: amsgrad)
        stepCount = state.stepCount
        learningRate = state.learningRate
    }
}

private func adamHyperparameters(
    _ beta1: Float, _ beta2: Float, _ epsilon: Float, _ weightDecay: Float, _ amsgrad: Bool
) -> [(String, Float)] {
    [("beta1", beta1), ("beta2", beta2), ("eps", epsilon), ("weight_decay", weightDecay), ("amsgrad", amsgrad ? 1 : 0)]
}

private func saveAdamStates(_ states: [AdamState?]) -> ([(String, Tensor)], [(String, Int)]) {
    var tensors: [(String, Tensor)] = [], counters: [(String, Int)] = []
    for (i, state) in states.enumerated() {
        guard let state else { continue }
        counters.append(("\(i).step", state.step))
        tensors.append(("\(i).exp_avg", state.expAvg))
        tensors.append(("\(i).exp_avg_sq", state.expAvgSq))
        if let m = state.maxExpAvgSq { tensors.append(("\(i).max_exp_avg_sq", m)) }
    }
    return (tensors, counters)
}

private func loadAdamStates(
    _ reader: inout OptimizerStateReader, count: Int, amsgrad: Bool
) throws(OptimizerStateError) -> [AdamState?] {
    var states = [AdamState?](repeating: nil, count: count)
    for i in reader.indices.sorted() {
        let step = try reader.counter(i, "step")
        states[i] = AdamState(step: step, expAvg: try reader.tensor(i, "exp_avg"),
                              expAvgSq: try reader.tensor(i, "exp_avg_sq"),
                              maxExpAvgSq: amsgrad ? try reader.tensor(i, "max_exp_avg_sq") : nil)
    }
    try reader.finish()
    return states
}

extension AdamState {
    /// A state restored from saved tensors.
    init(step: Int, expAvg: Tensor, expAvgSq: Tensor, maxExpAvgSq: Tensor?) {
        self.step = step
        self.expAvg = expAvg
        self.expAvgSq = expAvgSq
        self.maxExpAvgSq = maxExpAvgSq
    }
}

extension RMSprop: CheckpointableOptimizer {
    private var hyperparameters: [(String, Float)] {
        [("alpha", alpha), ("eps", epsilon), ("weight_decay", weightDecay), ("momentum", momentum),
         ("centered", centered ? 1 : 0)]
    }

    /// `"INDEX.step"`, `"INDEX.square_avg"` (and `"INDEX.momentum_buffer"`, `"INDEX.grad_avg"`).
    public func saveState() -> OptimizerState {
        var tensors: [(String, Tensor)] = [], counters: [(String, Int)] = []
        for (i, state) in states.enumerated() {
            guard let state else { continue }
            counters.append(("\(i).step", state.step))
            tensors.append(("\(i).square_avg", state.squareAvg))
            if let b = state.momentumBuffer { tensors.append(("\(i).momentum_buffer", b)) }
            if let a = state.gradAvg { tensors.append(("\(i).grad_avg", a)) }
        }
        return OptimizerState(kind: "RMSprop", stepCount: stepCount, learningRate: learningRate,
                              hyperparameters: hyperparameters, tensors: tensors, counters: counters)
    }

    /// Restores the running averages, step counts and learning rate.
    public func loadState(_ state: OptimizerState) throws(OptimizerStateError) {
        var reader = try OptimizerStateReader(state, kind: "RMSprop", hyperparameters: hyperparameters,
                                              parameters: parameters)
        var restored = [RMSpropState?](repeating: nil, count: parameters.count)
        for i in reader.indices.sorted() {
            restored[i] = RMSpropState(
                step: try reader.counter(i, "step"), squareAvg: try reader.tensor(i, "square_avg"),
                momentumBuffer: momentum > 0 ? try reader.tensor(i, "momentum_buffer") : nil,
                gradAvg: centered ? try reader.tensor(i, "grad_avg") : nil)
        }
        try reader.finish()
        states = restored
        stepCount = state.stepCount
        learningRate = state.learningRate
    }
}

extension RMSpropState {
    /// A state restored from saved tensors.
    init(step: Int, squareAvg: Tensor, momentumBuffer: Tensor?, gradAvg: Tensor?) {
        self.step = step
        self.squareAvg = squareAvg
        self.momentumBuffer = momentumBuffer
        self.gradAvg = gradAvg
    }
}

extension Adadelta: CheckpointableOptimizer {
    private var hyperparameters: [(String, Float)] {
        [("rho", rho), ("eps", epsilon), ("weight_decay", weightDecay)]
    }

    /// `"INDEX.step"`, `"INDEX.square_avg"`, `"INDEX.acc_delta"`.
    public func saveState() -> OptimizerState {
        var tensors: [(String, Tensor)] = [], counters: [(String, Int)] = []
        for (i, state) in states.enumerated() {
            guard let state else { continue }
            counters.append(("\(i).step", state.step))
            tensors.append(("\(i).square_avg", state.squareAvg))
            tensors.append(("\(i).acc_delta", state.accDelta))
        }
        return OptimizerState(kind: "Adadelta", stepCount: stepCount, learningRate: learningRate,
                              hyperparameters: hyperparameters, tensors: tensors, counters: counters)
    }

    /// Restores the running averages, step counts and learning rate.
    public func loadState(_ state: OptimizerState) throws(OptimizerStateError) {
        var reader = try OptimizerStateReader(state, kind: "Adadelta", hyperparameters: hyperparameters,
                                              parameters: parameters)
        var restored = [AdadeltaState?](repeating: nil, count: parameters.count)
        for i in reader.indices.sorted() {
            restored[i] = AdadeltaState(step: try reader.counter(i, "step"),
                                        squareAvg: try reader.tensor(i, "square_avg"),
                                        accDelta: try reader.tensor(i, "acc_delta"))
        }
        try reader.finish()
        states = restored
        stepCount = state.stepCount
        learningRate = state.learningRate
    }
}

extension AdadeltaState {
    /// A state restored from saved tensors.
    init(step: Int, squareAvg: Tensor, accDelta: Tensor) {
        self.step = step
        self.squareAvg = squareAvg
        self.accDelta = accDelta
    }
}
