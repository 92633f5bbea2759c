import KilnCompute
import Synchronization
import XCTest
@testable import KilnCUDA

/// Device-memory bookkeeping that needs no device: storages with a release hook, allocator
/// buckets, the scratch ring's addresses.
final class RuntimeMemoryTests: XCTestCase {
    func testDeviceStorageGoesBackThroughItsReleaseHook() {
        let released = Mutex<[(UInt64, Int)]>([])
        do {
            let s = Storage(device: .cuda(1), address: 0x7000_0000, capacity: 128) { address, capacity in
                released.withLock { $0.append((address, capacity)) }
            }
            XCTAssertEqual(s.device, .cuda(1))
            XCTAssertEqual(s.deviceAddress, 0x7000_0000)
            let view = StridedView(s, Layout(shape: [2, 3], strides: [3, 1], offset: 5))
            XCTAssertEqual(view.deviceBase, 0x7000_0000)
            XCTAssertEqual(view.deviceStart, 0x7000_0000 + 5 * 4)
            XCTAssertTrue(released.withLock { $0.isEmpty })
        }
        let calls = released.withLock { $0 }
        XCTAssertEqual(calls.count, 1)
        XCTAssertEqual(calls.first?.0, 0x7000_0000)
        XCTAssertEqual(calls.first?.1, 128)
        XCTAssertEqual(Storage(count: 3).deviceAddress, 0, "CPU storages have no device address")
    }

    func testAllocatorBucketsHoldTheRequestAndRepeatForNearbySizes() {
        var previous = 0
        for count in [0, 1, 63, 64, 65, 1000, 1 << 20, (1 << 20) + 1, 3_000_000, 50_000_000] {
            let b = CUDAAllocator.bucket(count)
            XCTAssertGreaterThanOrEqual(b, max(count, 1))
            XCTAssertEqual(b % 64, 0, "whole 256-byte units")
            XCTAssertGreaterThanOrEqual(b, previous, "monotone")
            // At most 63 elements (small) or 1/8 (large) of waste.
            XCTAssertLessThanOrEqual(b - count, count < 1 << 20 ? 64 : count / 8 + 64)
            previous = b
        }
        XCTAssertEqual(CUDAAllocator.bucket(3_000_000), CUDAAllocator.bucket(3_000_001))
    }

    func testScratchRingHandsOutDisjointAreasWrapsAndGrows() {
        var next: UInt64 = 0x1000_0000
        var allocated: [Int] = []
        let allocate = { (count: Int) -> Storage in
            allocated.append(count)
            defer { next += 0x1000_0000 }
            return Storage(device: .cuda(0), address: next, capacity: count) { _, _ in }
        }
        var ring = ScratchRing()
        let ringBytes = 1 << 20  // first buffer: 1 MiB
        let (a, _) = ring.reserve(bytes: 10, allocate: allocate)
        let (b, _) = ring.reserve(bytes: 300, allocate: allocate)
        let (c, _) = ring.reserve(bytes: 4, allocate: allocate)
        XCTAssertEqual(a, 0x1000_0000)
        XCTAssertEqual(b, a + 256, "areas are 256-byte aligned and follow each other")
        XCTAssertEqual(c, b + 512)
        // Fill to the end: the next request wraps to the start.
        var last = c
        for _ in 0..<((ringBytes - 1024) / 65536) { last = ring.reserve(bytes: 65536, allocate: allocate).0 }
        XCTAssertLessThanOrEqual(Int(last - a) + 65536, ringBytes)
        XCTAssertEqual(ring.reserve(bytes: 65536, allocate: allocate).0, a)
        XCTAssertEqual(allocated, [ringBytes / 4])
        // A request over an eighth of the ring replaces it by one 8 times the request.
        let big = ringBytes / 4
        let (d, replaced) = ring.reserve(bytes: big, allocate: allocate)
        XCTAssertEqual(d, 0x2000_0000)
        XCTAssertEqual(replaced?.deviceAddress, 0x1000_0000)
        XCTAssertEqual(allocated, [ringBytes / 4, big * 8 / 4], "elements for 8 times the request")
    }
}
