#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The part of a training step an op ran in.
public enum ProfilePhase: String, Sendable, CaseIterable {
    case forward, backward, optimizer
}

/// One row of a profile: an op (by name) in one phase, summed over the profiled steps.
public struct ProfileEntry: Sendable {
    /// The op's name as recorded (`linear(_:weight:bias:)`, `relu()`, …).
    public var name: String
    /// Forward, backward (its pullback) or optimizer.
    public var phase: ProfilePhase
    /// Number of times it ran.
    public var calls: Int
    /// Wall time it took, in seconds.
    public var seconds: Double
    /// Floating-point operations it did (matrix products: 2·M·N·K; 0 where not counted).
    public var flops: Double
}

/// A lightweight, off-by-default op profiler. While enabled, each op adds the wall time since the
/// previous profiler event to its row, so the rows of a step add up to the step's wall time:
/// forward ops when they record their output (`Tensor.recorded`), each pullback in `backward()`,
/// and whatever a runner marks (the optimizer step). Matrix products add their FLOPs
/// (`CPUBackend.gemm`) to the next event. Disabled, an op pays one relaxed atomic load.
///
/// NOTE: only the thread that called `start()` records (ops of other threads, e.g. tests running
/// in parallel, are ignored), so FLOPs of products issued from worker threads are not counted.
public enum Profiler {
    private static let enabled = Atomic<Bool>(false)
    private static let owner = Atomic<UInt>(0)

    private static var currentThread: UInt { UInt(bitPattern: Int(bitPattern: pthread_self())) }
    /// Enabled, and this is the thread that started it.
    private static var recordsHere: Bool { isEnabled && owner.load(ordering: .relaxed) == currentThread }

    private struct Key: Hashable { var name: String; var phase: ProfilePhase }
    private struct State {
        var phase: ProfilePhase = .forward
        var last = ContinuousClock.now
        var pendingFLOPs: Double = 0
        var rows: [Key: ProfileEntry] = [:]
        var order: [Key] = []
    }
    private static let state = Mutex(State())

    /// True while the profiler records.
    @inline(__always) public static var isEnabled: Bool { enabled.load(ordering: .relaxed) }

    /// Clears the rows and starts recording, in the forward phase.
    public static func start() {
        state.withLock { $0 = State() }
        owner.store(currentThread, ordering: .relaxed)
        enabled.store(true, ordering: .relaxed)
    }

    /// Stops recording and returns the rows in the order they first ran.
    @discardableResult
    public static func stop() -> [ProfileEntry] {
        enabled.store(false, ordering: .relaxed)
        return entries()
    }

    /// The rows recorded so far, in the order they first ran.
    public static func entries() -> [ProfileEntry] {
        state.withLock { s in s.order.map { s.rows[$0]! } }
    }

    /// The phase that events are recorded in now.
    public static var phase: ProfilePhase { state.withLock { $0.phase } }

    /// Adds `flops` to the next event (called by matrix-product kernels).
    public static func addFLOPs(_ flops: Double) {
        guard recordsHere else { return }
        state.withLock { $0.pendingFLOPs += flops }
    }

    /// Adds the time since the previous event (and the FLOPs counted since) to row (`name`, `phase`
    /// or the current phase).
    public static func mark(_ name: String, phase: ProfilePhase? = nil) {
        guard recordsHere else { return }
        let now = ContinuousClock.now
        state.withLock { s in
            let key = Key(name: name, phase: phase ?? s.phase)
            let seconds = (now - s.last).seconds
            if s.rows[key] == nil {
                s.rows[key] = ProfileEntry(name: name, phase: key.phase, calls: 0, seconds: 0, flops: 0)
                s.order.append(key)
            }
            s.rows[key]!.calls += 1
            s.rows[key]!.seconds += seconds
            s.rows[key]!.flops += s.pendingFLOPs
            s.pendingFLOPs = 0
            s.last = now
        }
    }

    /// A forward op finished: marks it, unless the profiler is in another phase (ops run inside
    /// a pullback or an optimizer belong to that event).
    public static func forwardOp(_ name: StaticString) {
        guard recordsHere, phase == .forward else { return }
        mark(name.description, phase: .forward)
    }

    /// Marks the time since the previous event as `name` in the current phase, then switches to
    /// `phase`.
    public static func enter(_ phase: ProfilePhase, closing name: String) {
        guard recordsHere else { return }
        mark(name)
        state.withLock { $0.phase = phase }
    }
}

extension Duration {
    fileprivate var seconds: Double {
        let (s, a) = components
        return Double(s) + Double(a) * 1e-18
    }
}
