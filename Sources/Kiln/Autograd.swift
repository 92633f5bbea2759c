import KilnCompute
import Synchronization

/// A vertex of the autograd graph: one per op output (or leaf) that requires a gradient.
package final class Node {
    /// The graph nodes of the op's inputs (nil for inputs that need no gradient).
    let inputs: [Node?]
    /// Maps the gradient of the output to the gradients of the inputs; nil for leaves and after use.
    var pullback: ((Tensor) -> [Tensor?])?
    /// For leaves: the accumulated gradient. For inner nodes: the gradient gathered so far in a pass.
    var grad: Tensor?
    let isLeaf: Bool
    var mark: UInt64 = 0
    /// The op that made this node (its function's name), for the profiler.
    let name: StaticString

    init(inputs: [Node?], pullback: ((Tensor) -> [Tensor?])?, name: StaticString = "leaf") {
        self.inputs = inputs
        self.pullback = pullback
        self.isLeaf = pullback == nil
        self.name = name
    }
}

/// Whether ops record the graph. Off inside `noGrad { }`.
public enum GradMode {
    @TaskLocal static var enabled = true
    /// True unless inside `noGrad { }`.
    public static var isEnabled: Bool { enabled }
}

/// Runs `body` without recording the autograd graph (evaluation, optimizer updates).
public func noGrad<R>(_ body: () throws -> R) rethrows -> R {
    try GradMode.$enabled.withValue(false) { try body() }
}

/// Numbers each backward pass, to mark visited nodes without clearing marks.
private let passCounter = Atomic<UInt64>(0)

extension Tensor {
    /// True when gradients flow to or through this tensor.
    public var requiresGrad: Bool { node != nil }

    /// This tensor as a leaf of the graph that collects a gradient in `grad` on `backward()`.
    public func requiringGrad() -> Tensor {
        Tensor(storage: storage, layout: layout, node: Node(inputs: [], pullback: nil))
    }

    /// The same elements, cut from the graph.
    public func detached() -> Tensor { Tensor(storage: storage, layout: layout) }

    /// The gradient accumulated in a leaf by `backward()`, or nil.
    public var grad: Tensor? { node?.grad }

    /// Clears a leaf's accumulated gradient.
    public func zeroGrad() { node?.grad = nil }

    /// Wraps an op's output: records `pullback` in the graph when gradients are on and some input
    /// requires one. `pullback` maps the output's gradient to one gradient per input (nil = none).
    /// `name` labels the op in profiles (by default the calling function's name).
    package func recorded(from inputs: [Tensor], name: StaticString = #function,
                          _ pullback: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        if Profiler.isEnabled { Profiler.forwardOp(name) }
        guard GradMode.enabled, inputs.contains(where: { $0.node != nil }) else { return self }
        var out = self
        out.node = Node(inputs: inputs.map(\.node), pullback: pullback, name: name)
        return out
    }

    /// Back-propagates from this tensor: adds d(self)/d(leaf) to the `grad` of every leaf it depends
    /// on. `gradient` is d(loss)/d(self); by default ones (so for a scalar loss, dloss/dloss = 1).
    /// The graph is freed as it is consumed: call `backward()` once per forward pass.
    public func backward(_ gradient: Tensor? = nil) {
        guard let root = node else {
            preconditionFailure("backward: tensor of shape \(shape) does not require grad")
        }
        let seed = gradient ?? Tensor.ones(shape, device: device)
        precondition(seed.shape == shape, "backward: gradient shape \(seed.shape) differs from \(shape)")
        // Profiling: the time since the last forward op closes the forward phase; each pullback
        // (with the gradient accumulation it causes) is one backward event under its op's name.
        let profiling = Profiler.isEnabled
        if profiling { Profiler.enter(.backward, closing: "(forward, after the last op)") }
        defer { if profiling { Profiler.enter(.optimizer, closing: "(backward engine)") } }
        noGrad {
            let order = Tensor.topologicalOrder(root)
            // A leaf root keeps its own copy, as below: the caller may reuse `gradient`.
            root.grad = root.grad.map { $0 + seed } ?? (root.isLeaf ? seed.copied() : seed)
            if profiling { Profiler.mark("(backward engine)") }
            for node in order.reversed() {
                if node.isLeaf { continue }
                guard let g = node.grad, let pullback = node.pullback else { continue }
                node.grad = nil
                node.pullback = nil
                var grads = pullback(g)
                precondition(grads.count == node.inputs.count, "pullback returned \(grads.count) gradients for \(node.inputs.count) inputs")
                for i in grads.indices {
                    guard let input = node.inputs[i], var gi = grads[i] else { continue }
                    grads[i] = nil  // so that `gi` may hold the only reference to its storage
                    if let existing = input.grad {
                        input.grad = existing + gi
                    } else if input.isLeaf && !(gi.isContiguous && gi.layout.offset == 0
                                                  && isKnownUniquelyReferenced(&gi.storage)) {
                        // A leaf keeps a buffer of its own: gradients of several inputs may share
                        // storage (`a + b` passes one gradient to both), and optimizers and
                        // clipping change `grad` in place.
                        input.grad = gi.copied()
                    } else {
                        input.grad = gi
                    }
                }
                if profiling { Profiler.mark(node.name.description) }
            }
        }
    }

    /// Nodes reachable from `root`, each after all of its inputs.
    private static func topologicalOrder(_ root: Node) -> [Node] {
        let mark = passCounter.wrappingAdd(1, ordering: .relaxed).newValue
        var order: [Node] = []
        var stack: [(Node, Int)] = [(root, 0)]
        root.mark = mark
        while let (node, next) = stack.popLast() {
            if next < node.inputs.count {
                stack.append((node, next + 1))
                if let child = node.inputs[next], child.mark != mark {
                    child.mark = mark
                    stack.append((child, 0))
                }
            } else {
                order.append(node)
            }
        }
        return order
    }
}
