import Kiln
import KilnCompute

// On a device backend that provides fused updates (`OptimizerUpdates`), a step runs one kernel per
// parameter where the parameter and its state live; on the CPU the optimizers' own loops run,
// unchanged.

/// The fused updates of the device `parameter` lives on, or nil (CPU, or a device without them:
/// the CPU loops then run through host copies).
func fusedUpdates(for parameter: Parameter) -> (any OptimizerUpdates)? {
    let value = parameter.value
    guard value.storage.device != .cpu, value.isContiguous else { return nil }
    return value.backend as? any OptimizerUpdates
}

extension Tensor {
    /// The elements as a dense view (a contiguous copy when the layout is not dense).
    var denseView: StridedView { contiguous().view }
}
