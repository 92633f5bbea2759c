@testable import KilnCompute
import Synchronization
import Testing

/// Every chunk of a split runs exactly once, whatever the thread and chunk counts, when splits
/// nest and when several threads start splits at once.
/// Run counts per chunk, shared by the threads of a split.
private final class Tally: Sendable {
    private let counts: Mutex<[Int]>
    init(_ n: Int) { counts = Mutex(Array(repeating: 0, count: n)) }
    func hit(_ i: Int) { counts.withLock { $0[i] += 1 } }
    var values: [Int] { counts.withLock { $0 } }
}

@Suite struct WorkerTeamTests {
    /// Per-chunk run counts of `forEachConcurrentChunk(chunks)` over `rounds` splits.
    private func counts(_ chunks: Int, threads: Int, rounds: Int) -> [Int] {
        let tally = Tally(chunks)
        for _ in 0..<rounds { forEachConcurrentChunk(chunks, threads: threads) { tally.hit($0) } }
        return tally.values
    }

    @Test(arguments: [1, 2, 3, 5])
    func everyChunkRunsOnce(threads: Int) {
        for chunks in [1, 2, 3, 7, 16] {
            #expect(counts(chunks, threads: threads, rounds: 200) == Array(repeating: 200, count: chunks),
                    "\(threads) threads, \(chunks) chunks")
        }
    }

    @Test func nestedAndConcurrentSplits() async {
        // A split inside a chunk runs on that chunk's thread.
        let inner = Tally(12)
        forEachConcurrentChunk(3, threads: 3) { outer in
            forEachConcurrentChunk(4, threads: 3) { inner.hit(outer * 4 + $0) }
        }
        #expect(inner.values == Array(repeating: 1, count: 12))
        // Four threads splitting at once: one gets the team, the others run inline.
        let results = await withTaskGroup(of: [Int].self) { group in
            for _ in 0..<4 { group.addTask { self.counts(5, threads: 3, rounds: 300) } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results == Array(repeating: Array(repeating: 300, count: 5), count: 4))
    }
}
