import Dispatch
import Foundation
import Synchronization

/// A sequence that produces the elements of `source` on a background thread, up to
/// `prefetchDepth` elements ahead of the consumer, so that gathering the next batch overlaps with
/// the training step on the current one.
///
/// The elements and their order are exactly those of iterating `source` directly. Each
/// `makeIterator()` starts one producer thread for one pass; the thread ends when the source is
/// exhausted or when the iterator is dropped (e.g. the loop `break`s), whichever comes first.
///
/// ```swift
/// for batch in mnist.train.loader(batchSize: 128, shuffle: true, seed: seed &+ UInt64(epoch)) {
///     let loss = crossEntropy(model(batch.inputs), batch.labels)
///     ...
/// }
/// ```
public struct DataLoader<Source: Sequence & Sendable>: Sequence, Sendable where Source.Element: Sendable {
    /// The sequence whose elements are produced in the background.
    public let source: Source
    /// The most elements ready and waiting for the consumer at any time (at least 1).
    public let prefetchDepth: Int

    /// A loader of `source`'s elements, prepared up to `depth` ahead on a background thread.
    public init(_ source: Source, prefetch depth: Int = 2) {
        precondition(depth >= 1, "DataLoader: prefetch depth must be at least 1, got \(depth)")
        self.source = source
        self.prefetchDepth = depth
    }

    /// Starts the producer thread for one pass over `source`.
    public func makeIterator() -> Iterator {
        Iterator(pipeline: PrefetchPipeline(source: source, depth: prefetchDepth))
    }

    /// The consumer's end of one pass: `next()` waits for the producer when it is behind.
    public struct Iterator: IteratorProtocol {
        let pipeline: PrefetchPipeline<Source>

        /// The next element of `source`, or nil after the last.
        public mutating func next() -> Source.Element? { pipeline.next() }
    }
}

/// The queue between the producer thread and the consumer, shared by both.
///
/// Two semaphores count the free slots and the ready elements; the queue itself is under a mutex.
/// A `nil` element marks the end of the source.
final class PrefetchChannel<Element: Sendable>: Sendable {
    private struct State {
        var ready: [Element?] = []
        var cancelled = false
    }

    private let state = Mutex(State())
    /// Counts free slots: the producer takes one before producing an element.
    let freeSlots = DispatchSemaphore(value: 0)
    /// Counts elements in `ready`: the consumer takes one before popping.
    let readyElements = DispatchSemaphore(value: 0)

    init(depth: Int) {
        // NOTE: libdispatch traps when a semaphore is freed with a value below its initial value,
        // which a cancelled pass can leave; so start at 0 and signal the slots in.
        for _ in 0..<depth { freeSlots.signal() }
    }

    var isCancelled: Bool { state.withLock { $0.cancelled } }

    func cancel() { state.withLock { $0.cancelled = true } }

    func push(_ element: Element?) {
        state.withLock { $0.ready.append(element) }
    }

    func pop() -> Element? {
        state.withLock { state -> Element? in
            precondition(!state.ready.isEmpty, "PrefetchChannel: pop from an empty queue")
            return state.ready.removeFirst()
        }
    }
}

/// One pass of a `DataLoader`: owns the channel's consumer side and stops the producer when freed.
final class PrefetchPipeline<Source: Sequence & Sendable> where Source.Element: Sendable {
    private let channel: PrefetchChannel<Source.Element>
    private var finished = false

    init(source: Source, depth: Int) {
        let channel = PrefetchChannel<Source.Element>(depth: depth)
        self.channel = channel
        let thread = Thread {
            var iterator = source.makeIterator()
            while true {
                channel.freeSlots.wait()
                if channel.isCancelled { return }
                let element = iterator.next()
                let isEnd = element == nil
                channel.push(element)
                channel.readyElements.signal()
                if isEnd { return }
            }
        }
        thread.name = "Kiln DataLoader"
        thread.start()
    }

    func next() -> Source.Element? {
        if finished { return nil }
        channel.readyElements.wait()
        let element = channel.pop()
        channel.freeSlots.signal()
        if element == nil { finished = true }
        return element
    }

    deinit {
        // Wake a producer waiting for a slot; it sees the flag and returns. One that is producing
        // finishes that element, then takes this (or a later) slot and returns.
        channel.cancel()
        channel.freeSlots.signal()
    }
}
