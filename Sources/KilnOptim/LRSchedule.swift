/// A learning rate as a function of the step index, where step 0 is the first optimizer step.
///
/// Schedules are stateless values in closed form, so resuming a run at step `n` needs nothing
/// but `n`. Apply one by setting the optimizer's learning rate before every step:
///
/// ```swift
/// let schedule = LinearWarmup(warmupSteps: 500,
///                             then: CosineAnnealing(baseLearningRate: 3e-4, tMax: 9_500))
/// for step in 0..<10_000 {
///     optimizer.zeroGrad()
///     loss(step).backward()
///     optimizer.learningRate = schedule.learningRate(at: step)
///     optimizer.step()
/// }
/// ```
///
/// `learningRate(at: step)` equals the `param_groups[0]["lr"]` that PyTorch's optimizer sees at
/// its `step`-th `optimizer.step()` when the matching scheduler's `step()` follows each one.
public protocol LRSchedule: Sendable {
    /// The learning rate to use for optimizer step `step` (`step >= 0`).
    func learningRate(at step: Int) -> Float
}

/// Multiplies the learning rate by `gamma` every `stepSize` steps, as PyTorch's `StepLR`:
/// `baseLearningRate · gamma^⌊step / stepSize⌋`.
public struct StepLR: LRSchedule {
    /// The learning rate of the first `stepSize` steps.
    public let baseLearningRate: Float
    /// The number of steps between two decays (at least 1).
    public let stepSize: Int
    /// The multiplicative decay applied every `stepSize` steps (PyTorch default `0.1`).
    public let gamma: Float

    /// Creates a step decay schedule.
    ///
    /// - Precondition: `stepSize > 0`.
    public init(baseLearningRate: Float, stepSize: Int, gamma: Float = 0.1) {
        precondition(stepSize > 0, "StepLR: stepSize must be positive, got \(stepSize)")
        self.baseLearningRate = baseLearningRate
        self.stepSize = stepSize
        self.gamma = gamma
    }

    /// `baseLearningRate · gamma^⌊step / stepSize⌋`, computed in double precision.
    public func learningRate(at step: Int) -> Float {
        precondition(step >= 0, "StepLR: step must not be negative, got \(step)")
        return Float(Double(baseLearningRate) * power(Double(gamma), step / stepSize))
    }
}

/// Cosine annealing from `baseLearningRate` down to `etaMin` over `tMax` steps, in the closed
/// form of PyTorch's `CosineAnnealingLR` (without restarts):
/// `etaMin + (baseLearningRate − etaMin) · (1 + cos(π · step / tMax)) / 2`.
///
/// Past `tMax` the cosine continues, so the rate rises again with period `2 · tMax`, as in
/// PyTorch; stop at `tMax` or wrap the schedule if that is not wanted.
public struct CosineAnnealing: LRSchedule {
    /// The learning rate at step 0.
    public let baseLearningRate: Float
    /// The number of steps from the maximum to the minimum (at least 1).
    public let tMax: Int
    /// The minimum learning rate, reached at step `tMax` (PyTorch default `0`).
    public let etaMin: Float

    /// Creates a cosine annealing schedule.
    ///
    /// - Precondition: `tMax > 0`.
    public init(baseLearningRate: Float, tMax: Int, etaMin: Float = 0) {
        precondition(tMax > 0, "CosineAnnealing: tMax must be positive, got \(tMax)")
        self.baseLearningRate = baseLearningRate
        self.tMax = tMax
        self.etaMin = etaMin
    }

    /// The closed-form cosine value at `step`, computed in double precision.
    public func learningRate(at step: Int) -> Float {
        precondition(step >= 0, "CosineAnnealing: step must not be negative, got \(step)")
        let base = Double(baseLearningRate), minimum = Double(etaMin)
        let phase = Double.pi * Double(step) / Double(tMax)
        return Float(minimum + (base - minimum) * (1 + cosine(phase)) / 2)
    }
}

/// A linear warm-up over `warmupSteps` steps, followed by another schedule (or a constant).
///
/// During warm-up the rate rises linearly from `startFactor · peak` towards `peak`, the wrapped
/// schedule's rate at its step 0: `peak · (startFactor + (1 − startFactor) · step / warmupSteps)`.
/// From step `warmupSteps` on it is `schedule.learningRate(at: step − warmupSteps)`.
///
/// This is PyTorch's `LinearLR(start_factor, end_factor=1, total_iters=warmupSteps)` chained
/// with the wrapped scheduler by `SequentialLR(milestones=[warmupSteps])`; with the default
/// `startFactor` of 0 it is `LambdaLR(lambda t: min(1, t / warmupSteps))`, the common
/// transformer warm-up.
public struct LinearWarmup: LRSchedule {
    /// The number of warm-up steps (0 means no warm-up).
    public let warmupSteps: Int
    /// The fraction of the peak learning rate used at step 0, in `[0, 1]`.
    public let startFactor: Float
    /// The schedule that follows the warm-up, started at its own step 0.
    public let schedule: any LRSchedule

    /// Creates a warm-up into `schedule`, whose step 0 comes right after the warm-up.
    ///
    /// - Precondition: `warmupSteps >= 0` and `0 <= startFactor <= 1`.
    public init(warmupSteps: Int, startFactor: Float = 0, then schedule: any LRSchedule) {
        precondition(warmupSteps >= 0, "LinearWarmup: warmupSteps must not be negative, got \(warmupSteps)")
        precondition(startFactor >= 0 && startFactor <= 1,
                     "LinearWarmup: startFactor must lie in [0, 1], got \(startFactor)")
        self.warmupSteps = warmupSteps
        self.startFactor = startFactor
        self.schedule = schedule
    }

    /// Creates a warm-up to the constant learning rate `peak`, held after the warm-up.
    ///
    /// - Precondition: `warmupSteps >= 0` and `0 <= startFactor <= 1`.
    public init(warmupSteps: Int, startFactor: Float = 0, peak: Float) {
        self.init(warmupSteps: warmupSteps, startFactor: startFactor,
                  then: ConstantSchedule(value: peak))
    }

    /// The warm-up ramp before `warmupSteps`, then the wrapped schedule.
    public func learningRate(at step: Int) -> Float {
        precondition(step >= 0, "LinearWarmup: step must not be negative, got \(step)")
        if step >= warmupSteps {
            return schedule.learningRate(at: step - warmupSteps)
        }
        let peak = Double(schedule.learningRate(at: 0)), start = Double(startFactor)
        let factor = start + (1 - start) * Double(step) / Double(warmupSteps)
        return Float(peak * factor)
    }
}

/// The same learning rate at every step (what ``LinearWarmup`` holds after a constant warm-up).
struct ConstantSchedule: LRSchedule {
    let value: Float

    func learningRate(at step: Int) -> Float {
        value
    }
}
