import Kiln

/// Scales all gradients together, in place, so that their global L2 norm is at most `maxNorm`,
/// as PyTorch's `torch.nn.utils.clip_grad_norm_` (with `norm_type=2`).
///
/// The norm is taken over every element of every gradient, as if they were one vector;
/// parameters whose `grad` is `nil` are skipped. When that norm exceeds `maxNorm`, every
/// gradient is multiplied by `maxNorm / (norm + 1e-6)`; otherwise nothing changes. Call it
/// between the backward pass and `optimizer.step()`:
///
/// ```swift
/// loss.backward()
/// let norm = clipGradNorm(model.parameters(), maxNorm: 1.0)
/// optimizer.step()
/// ```
///
/// A non-finite norm (an infinite or NaN gradient) is returned as it is and leaves the
/// gradients unchanged, so that the caller can detect it and skip the step.
///
/// - Returns: The global norm of the gradients before clipping.
/// - Precondition: `maxNorm >= 0`.
@discardableResult
public func clipGradNorm(_ parameters: [Parameter], maxNorm: Float) -> Float {
    precondition(maxNorm >= 0, "clipGradNorm: maxNorm must not be negative, got \(maxNorm)")
    var sumOfSquares: Double = 0
    for grad in parameters.compactMap(\.grad) {
        sumOfSquares += grad.withUnsafeBufferPointer(squaredNorm)
    }
    let norm = Float(sumOfSquares.squareRoot())
    guard norm > maxNorm, norm.isFinite else { return norm }
    // NOTE: the coefficient is formed in float32 from the float32 norm, as PyTorch does.
    let coefficient = maxNorm / (norm + 1e-6)
    // Two parameters may have been given the very same gradient tensor: scale each buffer once.
    var scaled = Set<UnsafeMutableRawPointer>()
    for parameter in parameters {
        guard let grad = parameter.grad else { continue }
        if grad.isContiguous {
            grad.withUnsafeMutableBufferPointer { buffer in
                guard let base = buffer.baseAddress, scaled.insert(UnsafeMutableRawPointer(base)).inserted
                else { return }
                scale(base, count: buffer.count, by: coefficient)
            }
        } else {
            // A strided or broadcast view cannot be scaled in place (a stride-0 element would be
            // scaled once per alias): replace it by a scaled contiguous copy.
            parameter.grad = grad.withUnsafeBufferPointer { source in
                Tensor(shape: grad.shape) { target in
                    for i in 0..<source.count { target[i] = source[i] * coefficient }
                }
            }
        }
    }
    return norm
}

/// The sum of the squares of `values`, accumulated in double precision.
///
/// NOTE: Swift never reorders a float sum, so a plain loop would run serially on one
/// accumulator; eight independent double lanes vectorize, and the square of a float is exact
/// in double, so the only rounding is in the additions.
func squaredNorm(_ values: UnsafeBufferPointer<Float>) -> Double {
    guard let base = values.baseAddress else { return 0 }
    let count = values.count, raw = UnsafeRawPointer(base)
    var lanes = SIMD8<Double>()
    var i = 0
    while i + 8 <= count {
        let chunk = SIMD8<Double>(raw.loadUnaligned(fromByteOffset: i * MemoryLayout<Float>.stride,
                                                    as: SIMD8<Float>.self))
        lanes += chunk * chunk
        i += 8
    }
    var total = lanes.sum()
    while i < count {
        let x = Double(base[i])
        total += x * x
        i += 1
    }
    return total
}

/// Multiplies `count` floats at `values` by `factor`, in place.
private func scale(_ values: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
    for i in 0..<count {
        values[i] = values[i] * factor
    }
}
