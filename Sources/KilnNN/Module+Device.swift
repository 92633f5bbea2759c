import Kiln

extension Module {
    /// Moves every parameter (with its gradient, if any) and every buffer of this module and its
    /// sub-modules to `device`, in place: the `Parameter` objects stay the same (an optimizer made
    /// before the move keeps updating them), only their storage moves. Returns this module.
    ///
    /// Optimizer state made before the move is not moved; see `CheckpointableOptimizer.to(_:)`.
    @discardableResult
    public func to(_ device: Device) -> Self {
        for parameter in parameters() {
            parameter.value.moveStorage(to: device)
            parameter.grad?.moveStorage(to: device)
        }
        for (_, module) in namedModules() {
            for (_, buffer) in module.ownBuffers { buffer.moveStorage(to: device) }
        }
        return self
    }

    /// The device of the first parameter (CPU for a module without parameters).
    public var device: Device { parameters().first?.value.device ?? .cpu }
}
