import Testing
@testable import KilnDistributed

/// The row ranges of a global batch: they tile it in order, differ in size by at most one, and
/// weights `rows / n` sum to 1 (so the weighted sum of shard means is the mean over the batch).
@Suite struct ShardTests {
    @Test(arguments: [(128, 2), (128, 4), (100, 3), (5, 4), (3, 4), (1, 2), (128, 1)])
    func shardsTileTheBatch(count: Int, size: Int) {
        let shards = (0..<size).map { DataParallel.shard(of: count, rank: $0, size: size) }
        #expect(shards.first?.lowerBound == 0)
        #expect(shards.last?.upperBound == count)
        for (a, b) in zip(shards, shards.dropFirst()) { #expect(a.upperBound == b.lowerBound) }
        let sizes = shards.map(\.count)
        #expect(sizes.max()! - sizes.min()! <= 1)
        #expect(sizes.reduce(0, +) == count)
    }

    @Test func halvesOfAnEvenBatch() {
        #expect(DataParallel.shard(of: 128, rank: 0, size: 2) == 0..<64)
        #expect(DataParallel.shard(of: 128, rank: 1, size: 2) == 64..<128)
        #expect(DataParallel.shard(of: 10, rank: 1, size: 4) == 2..<5)
    }
}
