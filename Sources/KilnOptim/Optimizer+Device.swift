import Kiln

extension CheckpointableOptimizer {
    /// Moves the optimizer's state tensors (moments, momentum buffers, …) to `device` in place.
    /// State is created on each parameter's device at its first update, so this is only needed for
    /// state that exists already (e.g. restored from a checkpoint before the model moved).
    public func to(_ device: Device) {
        for (_, tensor) in saveState().tensors { tensor.moveStorage(to: device) }
    }
}
