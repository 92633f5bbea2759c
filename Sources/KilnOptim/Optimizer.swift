import Kiln

/// An update rule that changes a fixed list of parameters in place from their gradients.
///
/// The training loop fills each `Parameter.grad` (by running the backward pass), calls
/// ``step()`` to apply one update, and ``zeroGrad()`` before the next backward pass:
///
/// ```swift
/// let optimizer = Adam(model.parameters(), learningRate: 1e-3)
/// for (step, batch) in batches.enumerated() {
///     optimizer.zeroGrad()
///     let loss = crossEntropy(model(batch.inputs), batch.labels)
///     loss.backward()
///     optimizer.learningRate = schedule.learningRate(at: step)   // optional, see LRSchedule
///     optimizer.step()
/// }
/// ```
///
/// Like PyTorch, a parameter whose `grad` is `nil` at a step is skipped entirely: its value and
/// its optimizer state (including its own step count) stay as they were.
public protocol Optimizer: AnyObject {
    /// The parameters this optimizer updates, in the order given at construction.
    var parameters: [Parameter] { get }

    /// The learning rate the next ``step()`` uses; a schedule may set it before every step.
    var learningRate: Float { get set }

    /// The number of times ``step()`` has been called.
    var stepCount: Int { get }

    /// Applies one update to every parameter that has a gradient, in place.
    func step()

    /// Clears every parameter's gradient (sets it to `nil`, as PyTorch's `set_to_none=True`).
    func zeroGrad()
}

extension Optimizer {
    /// Clears every parameter's gradient by calling `Parameter.zeroGrad()` on each.
    public func zeroGrad() {
        for parameter in parameters {
            parameter.zeroGrad()
        }
    }
}

/// Checks that no parameter appears twice in the list: its in-place update would be applied
/// twice per step (PyTorch rejects this too).
func validateParameters(_ parameters: [Parameter], optimizer: String) {
    var seen = Set<ObjectIdentifier>()
    for (index, parameter) in parameters.enumerated() {
        precondition(seen.insert(ObjectIdentifier(parameter)).inserted,
                     "\(optimizer): parameter \(index) appears more than once in the parameter list")
    }
}

/// Checks that a hyperparameter lies in its valid range, naming it when it does not.
func require(_ condition: Bool, _ optimizer: String, _ message: @autoclosure () -> String) {
    precondition(condition, "\(optimizer): \(message())")
}

/// The gradient of `parameter` if it has one, after checking that its shape matches the value.
func gradient(of parameter: Parameter, index: Int, optimizer: String) -> Tensor? {
    guard let grad = parameter.grad else { return nil }
    precondition(grad.shape == parameter.value.shape,
                 "\(optimizer).step: gradient shape \(grad.shape) does not match parameter \(index) of shape \(parameter.value.shape)")
    return grad
}

/// Runs `body` with raw pointers to the parameter's value (written in place) and its gradient.
///
/// NOTE: the value must be contiguous (`Tensor.withUnsafeMutableBufferPointer` requires it);
/// the gradient is read in row-major order. Empty tensors never reach `body`.
func withValueAndGradient(
    _ parameter: Parameter, _ grad: Tensor,
    _ body: (_ count: Int, _ value: UnsafeMutablePointer<Float>, _ grad: UnsafePointer<Float>) -> Void
) {
    parameter.value.withUnsafeMutableBufferPointer { value in
        grad.withUnsafeBufferPointer { grad in
            guard let valueBase = value.baseAddress, let gradBase = grad.baseAddress else { return }
            precondition(value.count == grad.count,
                         "optimizer step: parameter has \(value.count) elements but its gradient has \(grad.count)")
            body(value.count, valueBase, gradBase)
        }
    }
}

/// Runs `body` with a raw pointer to the storage of `tensor`, written in place, or `nil` when
/// there is no tensor (an optional state buffer that this configuration does not use).
func withOptionalState<R>(
    _ tensor: Tensor?, _ body: (UnsafeMutablePointer<Float>?) -> R
) -> R {
    guard let tensor else { return body(nil) }
    return tensor.withUnsafeMutableBufferPointer { body($0.baseAddress) }
}
