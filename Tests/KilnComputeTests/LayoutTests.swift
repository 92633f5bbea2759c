@testable import KilnCompute
import Testing

@Suite struct LayoutTests {
    @Test func contiguousStridesAndCount() {
        #expect(Layout.contiguousStrides([2, 3, 4]) == [12, 4, 1])
        #expect(Layout.contiguousStrides([]) == [])
        #expect(Layout.contiguousStrides([5]) == [1])
        let l = Layout(contiguous: [2, 3, 4], offset: 7)
        #expect(l.count == 24 && l.rank == 3 && l.offset == 7)
        #expect(Layout(contiguous: []).count == 1)
        #expect(Layout(contiguous: [3, 0]).count == 0)
    }

    @Test func isContiguous() {
        #expect(Layout(contiguous: [2, 3]).isContiguous)
        #expect(!Layout(shape: [3, 2], strides: [1, 3], offset: 0).isContiguous)
        // Size-1 axes may have any stride.
        #expect(Layout(shape: [2, 1, 3], strides: [3, 99, 1], offset: 5).isContiguous)
        #expect(!Layout(shape: [2, 3], strides: [4, 1], offset: 0).isContiguous)
        #expect(!Layout(shape: [2, 3], strides: [0, 1], offset: 0).isContiguous)
        #expect(Layout(shape: [1, 1], strides: [0, 0], offset: 0).isContiguous)
    }

    @Test func span() {
        #expect(Layout(contiguous: [2, 3], offset: 4).span == 10)
        #expect(Layout(shape: [2, 3], strides: [1, 4], offset: 1).span == 1 + 1 + 8 + 1)
        #expect(Layout(shape: [2, 0], strides: [1, 1], offset: 3).span == 0)
    }

    @Test func viewsOfLayouts() {
        let l = Layout(contiguous: [2, 3, 4])
        #expect(l.permuted([2, 0, 1]) == Layout(shape: [4, 2, 3], strides: [1, 12, 4], offset: 0))
        #expect(l.transposed(0, 2) == Layout(shape: [4, 3, 2], strides: [1, 4, 12], offset: 0))
        #expect(l.narrowed(axis: 1, start: 1, length: 2) == Layout(shape: [2, 2, 4], strides: [12, 4, 1], offset: 4))
        #expect(l.narrowed(axis: 2, start: 3, length: 1).offset == 3)
        #expect(l.unsqueezed(0).shape == [1, 2, 3, 4])
        #expect(l.unsqueezed(3) == Layout(shape: [2, 3, 4, 1], strides: [12, 4, 1, 1], offset: 0))
        #expect(l.unsqueezed(1).squeezed(1) == l)
        #expect(Layout(contiguous: [3, 1]).expanded(to: [2, 3, 5]) == Layout(shape: [2, 3, 5], strides: [0, 1, 0], offset: 0))
        #expect(l.expanded(to: [2, 3, 4]) == l)
    }

    @Test func reshapeOfContiguousIsAView() {
        let l = Layout(contiguous: [2, 3, 4], offset: 5)
        #expect(l.reshaped([6, 4]) == Layout(contiguous: [6, 4], offset: 5))
        #expect(l.reshaped([24]) == Layout(contiguous: [24], offset: 5))
        #expect(l.reshaped([1, 24, 1])?.shape == [1, 24, 1])
    }

    @Test func reshapeOfStridedLayouts() {
        // Transposed [2, 4, 3] (strides [12, 1, 4]): axis 1 can be split, axes 1 and 2 can't merge.
        let t = Layout(contiguous: [2, 3, 4]).transposed(1, 2)
        #expect(t.reshaped([2, 2, 2, 3]) == Layout(shape: [2, 2, 2, 3], strides: [12, 2, 1, 4], offset: 0))
        #expect(t.reshaped([2, 12]) == nil)
        #expect(t.reshaped([8, 3]) == nil)
        // Size-1 axes inserted anywhere.
        #expect(t.reshaped([2, 1, 4, 3, 1])?.strides.enumerated().filter { [0, 2, 3].contains($0.offset) }.map(\.element)
                == [12, 1, 4])

        // A narrowed [4, 6] → [4, 3] (strides [6, 1], offset 2): rows can be split, not merged.
        let n = Layout(contiguous: [4, 6]).narrowed(axis: 1, start: 2, length: 3)
        #expect(n.reshaped([2, 2, 3]) == Layout(shape: [2, 2, 3], strides: [12, 6, 1], offset: 2))
        #expect(n.reshaped([4, 3, 1])?.strides.prefix(2) == [6, 1])
        #expect(n.reshaped([12]) == nil)
        #expect(n.reshaped([4, 1, 3])?.offset == 2)

        // Narrowed along the first axis of [4, 6] is still contiguous: any reshape is a view.
        let rows = Layout(contiguous: [4, 6]).narrowed(axis: 0, start: 1, length: 2)
        #expect(rows.reshaped([3, 4]) == Layout(contiguous: [3, 4], offset: 6))

        // Broadcast (stride 0) axes can be split but not merged with real ones.
        let e = Layout(contiguous: [3]).expanded(to: [4, 3])
        #expect(e.reshaped([12]) == nil)
        #expect(e.reshaped([2, 2, 3]) == Layout(shape: [2, 2, 3], strides: [0, 0, 1], offset: 0))

        // Every other element of a dense [3, 4] ([3, 2] at strides [4, 2]) is one stride-2 axis;
        // with a gap between rows ([3, 2] at strides [5, 2]) it is not.
        let everyOther = Layout(shape: [3, 2], strides: [4, 2], offset: 0)
        #expect(everyOther.reshaped([6]) == Layout(shape: [6], strides: [2], offset: 0))
        let gaps = Layout(shape: [3, 2], strides: [5, 2], offset: 1)
        #expect(gaps.reshaped([6]) == nil)
        #expect(gaps.reshaped([3, 2, 1])?.strides.prefix(2) == [5, 2])
    }

    @Test func reshapedViewsAddressTheSameElements() {
        // For each strided layout that reshapes to a view, the view visits the same storage
        // offsets in row-major order as the original.
        func offsets(_ l: Layout) -> [Int] {
            var result: [Int] = []
            func visit(_ d: Int, _ o: Int) {
                if d == l.rank { result.append(o); return }
                for i in 0..<l.shape[d] { visit(d + 1, o + i * l.strides[d]) }
            }
            visit(0, l.offset)
            return result
        }
        let cases: [(Layout, [Int])] = [
            (Layout(contiguous: [2, 3, 4]).transposed(1, 2), [2, 2, 2, 3]),
            (Layout(contiguous: [2, 3, 4]).permuted([2, 0, 1]), [2, 2, 6]),
            (Layout(contiguous: [4, 6]).narrowed(axis: 1, start: 1, length: 4), [4, 2, 2]),
            (Layout(contiguous: [5]).expanded(to: [2, 3, 5]), [6, 5]),
            (Layout(contiguous: [6, 4]).transposed(0, 1).narrowed(axis: 1, start: 1, length: 4), [2, 2, 2, 2]),
        ]
        for (l, shape) in cases {
            let r = l.reshaped(shape)
            if let r {
                #expect(offsets(r) == offsets(l), "\(l) → \(shape)")
            } else {
                Issue.record("\(l) should reshape to \(shape) as a view")
            }
        }
    }

    @Test func broadcastShapesFollowsNumPy() {
        #expect(broadcastShapes([3, 1, 4], [2, 1]) == [3, 2, 4])
        #expect(broadcastShapes([2, 1], [3, 1, 4]) == [3, 2, 4])
        #expect(broadcastShapes([], [2, 3]) == [2, 3])
        #expect(broadcastShapes([5, 4], [4]) == [5, 4])
        #expect(broadcastShapes([1], [0]) == [0])
        #expect(broadcastShapes([2, 3], [3, 2]) == nil)
        #expect(broadcastShapes([3], [4]) == nil)
    }
}
