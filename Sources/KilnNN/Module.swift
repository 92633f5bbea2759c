import Kiln

/// The base of every layer and model: owns parameters and sub-modules, found by reflection, under
/// dotted names that match PyTorch's `state_dict` names for the same model (`fc1.weight`, `0.bias`).
///
/// Subclasses declare parameters as `let`/`var` properties of type `Parameter` (or `Parameter?`)
/// and sub-modules as properties of a `Module` type (or arrays of them, named `name.0`, `name.1`).
open class Module {
    /// True in training mode (dropout active, batch statistics); false after `eval()`.
    public private(set) var isTraining = true

    /// A module with no parameters yet.
    public init() {}

    /// Direct sub-modules with their names. The default walks stored properties; containers
    /// such as `Sequential` override it.
    open var children: [(String, Module)] {
        var result: [(String, Module)] = []
        forEachProperty { name, value in
            if let m = value as? Module { result.append((name, m)) }
            if let list = value as? [Module] {
                for (i, m) in list.enumerated() { result.append(("\(name).\(i)", m)) }
            }
        }
        return result
    }

    /// Parameters held directly by this module (not by sub-modules), with their names.
    open var ownParameters: [(String, Parameter)] {
        var result: [(String, Parameter)] = []
        forEachProperty { name, value in
            if let p = value as? Parameter { result.append((name, p)) }
        }
        return result
    }

    /// Visits stored properties of this object's class and its superclasses up to `Module`.
    private func forEachProperty(_ body: (String, Any) -> Void) {
        var mirror: Mirror? = Mirror(reflecting: self)
        var chain: [Mirror] = []
        while let m = mirror, m.subjectType != Module.self {
            chain.append(m)
            mirror = m.superclassMirror
        }
        for m in chain.reversed() {
            for child in m.children {
                guard var label = child.label else { continue }
                if label.hasPrefix("_") { label.removeFirst() }  // property wrappers, lazy storage
                if case Optional<Any>.some(let unwrapped) = child.value as Any? {
                    body(label, unwrapped)
                }
            }
        }
    }

    /// Every parameter of this module and its sub-modules, with dotted names, in definition order.
    /// A parameter shared by several modules (tied weights) is listed once, under its first name
    /// (as PyTorch's `named_parameters()`), so that an optimizer updates it once per step.
    public func namedParameters() -> [(String, Parameter)] {
        var seen = Set<ObjectIdentifier>()
        return namedParametersWithDuplicates().filter { seen.insert(ObjectIdentifier($0.1)).inserted }
    }

    /// Every parameter under every name it has, as in PyTorch's `state_dict`.
    private func namedParametersWithDuplicates() -> [(String, Parameter)] {
        var result = ownParameters
        for (name, child) in children {
            result += child.namedParametersWithDuplicates().map { ("\(name).\($0.0)", $0.1) }
        }
        return result
    }

    /// Every parameter, in definition order.
    public func parameters() -> [Parameter] { namedParameters().map(\.1) }

    /// Non-trainable tensors saved with the model (running statistics); none by default.
    open var ownBuffers: [(String, Tensor)] { [] }

    /// Every module in the tree, depth first, this one included.
    public func modules() -> [Module] { [self] + children.flatMap { $0.1.modules() } }

    /// Puts this module and all sub-modules in training (`true`) or evaluation mode.
    public func train(_ on: Bool = true) {
        for m in modules() { m.isTraining = on }
    }

    /// Evaluation mode: dropout off, running statistics used.
    public func eval() { train(false) }

    /// Clears the gradients of all parameters.
    public func zeroGrad() {
        for p in parameters() { p.zeroGrad() }
    }

    /// Total number of scalar parameters.
    public var parameterCount: Int { parameters().reduce(0) { $0 + $1.count } }

    /// Parameters and buffers under their `state_dict` names.
    public func stateDict() -> [(String, Tensor)] {
        var result = namedParametersWithDuplicates().map { ($0.0, $0.1.value.detached()) }
        for (prefix, m) in namedModules() {
            result += m.ownBuffers.map { (prefix.isEmpty ? $0.0 : "\(prefix).\($0.0)", $0.1) }
        }
        return result
    }

    /// Every module with its dotted path ("" for this one).
    public func namedModules() -> [(String, Module)] {
        [("", self)] + children.flatMap { name, child in
            child.namedModules().map { ($0.0.isEmpty ? name : "\(name).\($0.0)", $0.1) }
        }
    }

    /// Copies `state` into the parameters and buffers in place. Every name must be present with
    /// the same shape; nothing is changed unless all of them match.
    public func loadStateDict(_ state: [String: Tensor]) throws(StateDictError) {
        let own = stateDict()
        for (name, tensor) in own {
            guard let source = state[name] else { throw .missing(name) }
            guard source.shape == tensor.shape else {
                throw .shapeMismatch(name, expected: tensor.shape, found: source.shape)
            }
        }
        let known = Set(own.map(\.0))
        if let extra = state.keys.sorted().first(where: { !known.contains($0) }) { throw .unexpected(extra) }
        noGrad {
            for (name, tensor) in own { tensor.assign(state[name]!) }
        }
    }
}

/// Why a state dict doesn't fit a module.
public enum StateDictError: Error, Equatable, CustomStringConvertible {
    /// The module has a tensor the state dict lacks.
    case missing(String)
    /// The state dict has a tensor the module lacks.
    case unexpected(String)
    /// A tensor's shape differs.
    case shapeMismatch(String, expected: [Int], found: [Int])

    /// A message naming the tensor and what was wrong.
    public var description: String {
        switch self {
        case .missing(let n): "state dict has no tensor '\(n)'"
        case .unexpected(let n): "state dict has tensor '\(n)' that the model doesn't"
        case .shapeMismatch(let n, let e, let f): "tensor '\(n)': expected shape \(e), found \(f)"
        }
    }
}

/// A module that maps one tensor to one tensor.
public protocol Layer: Module {
    /// Applies the layer.
    func callAsFunction(_ input: Tensor) -> Tensor
}
