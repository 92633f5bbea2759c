import Foundation
import KilnData
import Synchronization
import Testing

/// Counts how many elements have been produced, so a test can see how far ahead the loader runs.
final class ProductionCounter: Sendable {
    private let produced = Atomic<Int>(0)
    var value: Int { produced.load(ordering: .sequentiallyConsistent) }
    func increment() { produced.add(1, ordering: .sequentiallyConsistent) }
}

/// The numbers 0..<count, counting each one as it is produced.
struct CountedRange: Sequence, Sendable {
    let count: Int
    let counter: ProductionCounter

    func makeIterator() -> AnyIterator<Int> {
        var next = 0
        return AnyIterator {
            guard next < count else { return nil }
            counter.increment()
            defer { next += 1 }
            return next
        }
    }
}

/// Waits until `condition` holds or `seconds` pass; returns whether it held.
func eventually(within seconds: Double = 5, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        Thread.sleep(forTimeInterval: 0.002)
    }
    return condition()
}

@Suite("DataLoader")
struct DataLoaderTests {
    /// Asserts that two sequences of batches are identical: indices, labels, shapes and values.
    func expectSameBatches(_ a: [Batch], _ b: [Batch], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.count == b.count, sourceLocation: sourceLocation)
        for (x, y) in zip(a, b) {
            #expect(x.indices == y.indices, sourceLocation: sourceLocation)
            #expect(x.labels == y.labels, sourceLocation: sourceLocation)
            #expect(x.inputs.shape == y.inputs.shape, sourceLocation: sourceLocation)
            #expect(x.inputs.scalars == y.inputs.scalars, sourceLocation: sourceLocation)
        }
    }

    @Test("yields exactly the batches of the plain path, in the same order", arguments: [1, 2, 5])
    func sameAsPlainPath(depth: Int) {
        let dataset = countingDataset(count: 37)
        for dropLast in [false, true] {
            let plain = Array(dataset.batches(size: 8, shuffle: true, seed: 7, dropLast: dropLast))
            let loaded = Array(dataset.loader(batchSize: 8, shuffle: true, seed: 7, dropLast: dropLast, prefetch: depth))
            expectSameBatches(loaded, plain)
            #expect(loaded.map(\.count) == (dropLast ? [8, 8, 8, 8] : [8, 8, 8, 8, 5]))
        }
    }

    @Test("MNIST-format batches through the loader match, shaped layout included")
    func byteDatasetThroughLoader() throws {
        let folder = try TemporaryFolder()
        try TinyMNIST.write(in: folder)
        let train = try MNIST(directory: folder.url).train
        let plain = Array(train.batches(size: 2, shuffle: true, seed: 3, layout: .shaped))
        let loaded = Array(DataLoader(train.batches(size: 2, shuffle: true, seed: 3, layout: .shaped)))
        expectSameBatches(loaded, plain)
        #expect(loaded.last?.inputs.shape == [1, 1, 2, 2])
    }

    @Test("each pass starts again from the beginning")
    func repeatedPasses() {
        let loader = countingDataset().loader(batchSize: 3, shuffle: true, seed: 11)
        let first = Array(loader).map(\.indices)
        let second = Array(loader).map(\.indices)
        #expect(first == second)
        #expect(first.count == 4)
    }

    @Test("an empty source ends at once, and keeps ending")
    func emptySource() {
        var iterator = DataLoader([Int]()).makeIterator()
        #expect(iterator.next() == nil)
        #expect(iterator.next() == nil)
    }

    @Test("prefetching stays within its depth and stops when the consumer stops")
    func boundedAndCancelled() {
        let counter = ProductionCounter()
        let depth = 2
        do {
            var iterator = DataLoader(CountedRange(count: 1000, counter: counter), prefetch: depth).makeIterator()
            var received: [Int] = []
            for _ in 0..<3 { if let x = iterator.next() { received.append(x) } }
            #expect(received == [0, 1, 2])
            // The producer fills the free slots: at most `depth` ready beyond the 3 taken.
            #expect(eventually { counter.value == 3 + depth })
            Thread.sleep(forTimeInterval: 0.05)
            #expect(counter.value == 3 + depth)
        }
        // The iterator is gone: the producer, waiting for a slot, wakes, sees the cancellation and
        // returns without producing more.
        Thread.sleep(forTimeInterval: 0.05)
        #expect(counter.value == 3 + depth)
    }

    @Test("a slow consumer still receives every element in order")
    func slowConsumer() {
        let counter = ProductionCounter()
        var received: [Int] = []
        for x in DataLoader(CountedRange(count: 20, counter: counter), prefetch: 3) {
            if x % 5 == 0 { Thread.sleep(forTimeInterval: 0.002) }
            received.append(x)
        }
        #expect(received == Array(0..<20))
        #expect(counter.value == 20)
    }
}
