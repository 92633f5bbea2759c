import Kiln

/// An optimizer group saves the states of its groups as one: per-parameter entries are numbered
/// over all the groups' parameters in order (as ``OptimizerGroup/parameters`` lists them), each
/// group's hyperparameters are prefixed `gK.`, and each group's step count and learning rate are
/// counters `gK.step_count` and `gK.learning_rate_bits` (the Float's bit pattern, exact).
///
/// - Precondition: every group is a ``CheckpointableOptimizer`` (all of Kiln's optimizers are).
extension OptimizerGroup: CheckpointableOptimizer {
    private var members: [any CheckpointableOptimizer] {
        groups.enumerated().map { k, group in
            guard let c = group as? any CheckpointableOptimizer else {
                preconditionFailure("OptimizerGroup: group \(k) (\(type(of: group))) can't save its state")
            }
            return c
        }
    }

    private var kind: String { "OptimizerGroup(" + groups.map { "\(type(of: $0))" }.joined(separator: ",") + ")" }

    /// The groups' states as one.
    public func saveState() -> OptimizerState {
        var tensors: [(String, Tensor)] = [], counters: [(String, Int)] = [], hyperparameters: [(String, Float)] = []
        var offset = 0
        for (k, member) in members.enumerated() {
            let state = member.saveState()
            tensors += state.tensors.map { (shifted($0.0, by: offset), $0.1) }
            counters += state.counters.map { (shifted($0.0, by: offset), $0.1) }
            counters.append(("g\(k).step_count", state.stepCount))
            counters.append(("g\(k).learning_rate_bits", Int(state.learningRate.bitPattern)))
            hyperparameters += state.hyperparameters.map { ("g\(k).\($0.0)", $0.1) }
            offset += member.parameters.count
        }
        return OptimizerState(kind: kind, stepCount: stepCount, learningRate: learningRate,
                              hyperparameters: hyperparameters, tensors: tensors, counters: counters)
    }

    /// Restores every group, all or nothing (a group that refuses its part undoes the others).
    public func loadState(_ state: OptimizerState) throws(OptimizerStateError) {
        guard state.kind == kind else { throw .kind(expected: kind, found: state.kind) }
        let members = self.members
        var parts: [OptimizerState] = []
        var offset = 0
        var used = Set<String>()
        for (k, member) in members.enumerated() {
            let range = offset..<(offset + member.parameters.count)
            func local(_ name: String) -> String? {
                guard let dot = name.firstIndex(of: "."), let index = Int(name[..<dot]), range.contains(index) else { return nil }
                return "\(index - offset)" + name[dot...]
            }
            func counter(_ name: String) throws(OptimizerStateError) -> Int {
                guard let value = state.counters.first(where: { $0.0 == name })?.1 else { throw .missing(name) }
                used.insert(name)
                return value
            }
            let prefix = "g\(k)."
            var part = OptimizerState(
                kind: "", stepCount: try counter(prefix + "step_count"),
                learningRate: Float(bitPattern: UInt32(truncatingIfNeeded: try counter(prefix + "learning_rate_bits"))),
                hyperparameters: state.hyperparameters.filter { $0.0.hasPrefix(prefix) }.map { (String($0.0.dropFirst(prefix.count)), $0.1) },
                tensors: [], counters: [])
            for (name, tensor) in state.tensors { if let l = local(name) { part.tensors.append((l, tensor)); used.insert(name) } }
            for (name, value) in state.counters { if let l = local(name) { part.counters.append((l, value)); used.insert(name) } }
            part.kind = member.saveState().kind
            parts.append(part)
            offset = range.upperBound
        }
        if let extra = (state.tensors.map(\.0) + state.counters.map(\.0)).first(where: { !used.contains($0) }) {
            throw .unexpected(extra)
        }
        let backups = members.map { $0.saveState() }
        for (k, (member, part)) in zip(members, parts).enumerated() {
            do {
                try member.loadState(part)
            } catch {
                for (m, backup) in zip(members.prefix(k), backups) { try? m.loadState(backup) }
                throw error
            }
        }
        learningRate = state.learningRate
    }
}

/// `"INDEX.KEY"` with `INDEX` increased by `offset`.
private func shifted(_ name: String, by offset: Int) -> String {
    guard let dot = name.firstIndex(of: "."), let index = Int(name[..<dot]) else { return name }
    return "\(index + offset)" + name[dot...]
}
