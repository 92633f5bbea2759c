@testable import KilnCompute
import Testing

@Suite struct StorageTests {
    @Test func bucketsRoundUpToSixteenElements() {
        #expect(BufferCache.bucket(0) == 16)
        #expect(BufferCache.bucket(1) == 16)
        #expect(BufferCache.bucket(16) == 16)
        #expect(BufferCache.bucket(17) == 32)
        #expect(BufferCache.bucket(1000) == 1008)
        #expect(Storage(count: 5).capacity == 16)
    }

    @Test func buffersAreAlignedAndReused() {
        // An unusual capacity, so that no other test wants this bucket.
        var s: Storage? = Storage(count: 12_345)
        let p = s!.pointer
        #expect(Int(bitPattern: p) % 64 == 0)
        #expect(s!.capacity == 12_352)
        s = nil
        // Any count in the same bucket gets the same buffer back.
        let t = Storage(count: 12_340)
        #expect(t.pointer == p)
    }

    @Test func takeAndGiveKeepTheBooks() {
        let cache = BufferCache()  // a private cache: other tests can't interfere
        let p = cache.take(48)
        #expect(cache.systemAllocations == 1)
        #expect(cache.cachedElements == 0)
        cache.give(p, capacity: 48)
        #expect(cache.cachedElements == 48)
        let q = cache.take(48)
        #expect(q == p)
        #expect(cache.systemAllocations == 1)
        #expect(cache.cachedElements == 0)
        let r = cache.take(64)  // another bucket: a fresh buffer
        #expect(r != p && cache.systemAllocations == 2)
        cache.give(q, capacity: 48)
        cache.give(r, capacity: 64)
        #expect(cache.cachedElements == 112)
        cache.trim()
        #expect(cache.cachedElements == 0)
        _ = cache.take(48)  // after trim, a miss again
        #expect(cache.systemAllocations == 3)
    }
}
