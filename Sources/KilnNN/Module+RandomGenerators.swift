/// Finding the random generators a model draws from (dropout masks, …), so that a checkpoint
/// can save and restore their streams.
extension Module {
    /// Every `RandomGenerator` held in a stored property of this module or a sub-module, once
    /// each (by identity), under the dotted name of the first property holding it, e.g.
    /// `"2.generator"` for the dropout of `Sequential(Linear, ReLU, Dropout)`. Depth first, in
    /// definition order, so the same model structure gives the same names.
    public func namedRandomGenerators() -> [(String, RandomGenerator)] {
        var seen = Set<ObjectIdentifier>()
        var result: [(String, RandomGenerator)] = []
        for (prefix, module) in namedModules() {
            var mirror: Mirror? = Mirror(reflecting: module)
            var chain: [Mirror] = []
            while let m = mirror, m.subjectType != Module.self {
                chain.append(m)
                mirror = m.superclassMirror
            }
            for m in chain.reversed() {
                for child in m.children {
                    guard var label = child.label else { continue }
                    if label.hasPrefix("_") { label.removeFirst() }
                    guard case Optional<Any>.some(let value) = child.value as Any?,
                          let generator = value as? RandomGenerator,
                          seen.insert(ObjectIdentifier(generator)).inserted else { continue }
                    result.append((prefix.isEmpty ? label : "\(prefix).\(label)", generator))
                }
            }
        }
        return result
    }
}
