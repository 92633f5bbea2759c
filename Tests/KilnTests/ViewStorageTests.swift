import Kiln
import Testing

/// Views share their base's storage and never copy; copies never share.
@Suite struct ViewStorageTests {
    let base = Tensor.arange(0, 24).reshaped([2, 3, 4])

    @Test func viewsShareStorage() {
        let views: [(String, Tensor)] = [
            ("reshape", base.reshaped([6, 4])),
            ("reshape -1", base.reshaped([-1])),
            ("flatten", base.flattened(startAxis: 1)),
            ("transpose", base.transposed()),
            ("permute", base.permuted([2, 0, 1])),
            ("narrow", base.narrowed(axis: 1, start: 1, length: 2)),
            ("range subscript", base[1..<2]),
            ("index subscript", base[1]),
            ("expand", base[0][0].expanded(to: [5, 4])),
            ("unsqueeze", base.unsqueezed(axis: 0)),
            ("squeeze", base.unsqueezed(axis: 2).squeezed(axis: 2)),
            ("squeeze all", base[1..<2].squeezed()),
            ("contiguous of contiguous", base.contiguous()),
            ("reshape of a narrowed view that stays a view", base.narrowed(axis: 0, start: 1, length: 1).reshaped([12])),
            ("reshape of a transposed view splitting an axis", base.transposed(1, 2).reshaped([2, 2, 2, 3])),
        ]
        for (name, v) in views {
            #expect(v.sharesStorage(with: base), "\(name) should be a view")
        }
    }

    @Test func viewsSeeTheRightElements() {
        #expect(base.transposed().scalars[0..<6] == [0, 4, 8, 1, 5, 9])
        #expect(base.narrowed(axis: 2, start: 1, length: 2).scalars == [1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22])
        #expect(base[1][2].scalars == [20, 21, 22, 23])
        #expect(base[-1][0].scalars == [12, 13, 14, 15])
        #expect(base[0][0].expanded(to: [2, 4]).scalars == [0, 1, 2, 3, 0, 1, 2, 3])
        #expect(base.permuted([2, 0, 1]).shape == [4, 2, 3])
        #expect(base.permuted([2, 0, 1])[3].scalars == [3, 7, 11, 15, 19, 23])
        #expect(base.transposed(1, 2).reshaped([2, 2, 2, 3]).scalars == base.transposed(1, 2).contiguous().scalars)
    }

    @Test func copiesDontShare() {
        #expect(!base.copied().sharesStorage(with: base))
        #expect(!base.transposed().contiguous().sharesStorage(with: base))
        #expect(base.transposed().contiguous().isContiguous)
        #expect(!base.transposed().copied().sharesStorage(with: base))
        // A reshape that strides can't express copies.
        let t = base.transposed()  // [2, 4, 3]
        let r = t.reshaped([2, 12])
        #expect(!r.sharesStorage(with: base))
        #expect(r.scalars == t.scalars)
        // Expanded (stride 0) elements can't be flattened as a view.
        let e = base[0][0].expanded(to: [2, 4])
        #expect(!e.reshaped([8]).sharesStorage(with: base))
        #expect(e.reshaped([8]).scalars == [0, 1, 2, 3, 0, 1, 2, 3])
    }

    @Test func assignThroughAViewChangesTheBase() {
        let t = Tensor.zeros([3, 4])
        t.narrowed(axis: 1, start: 1, length: 2).assign(Tensor([1, 2, 3, 4, 5, 6], shape: [3, 2]))
        #expect(t.scalars == [0, 1, 2, 0, 0, 3, 4, 0, 0, 5, 6, 0])
        t.transposed()[3].assign(Tensor([7, 8, 9]))
        #expect(t.scalars == [0, 1, 2, 7, 0, 3, 4, 8, 0, 5, 6, 9])
        // Assigning from a broadcast view.
        t[0].assign(Tensor([5]).expanded(to: [4]))
        #expect(t.scalars[0..<4] == [5, 5, 5, 5])
        // And a copy is unaffected by later writes to the base.
        let c = t.copied()
        t.assign(Tensor.zeros([3, 4]))
        #expect(c.scalars[0..<4] == [5, 5, 5, 5])
        #expect(t.scalars.allSatisfy { $0 == 0 })
    }

    @Test func mutableBufferWritesAreSeenByViews() {
        let t = Tensor.zeros([2, 3])
        let v = t.transposed()
        t.withUnsafeMutableBufferPointer { $0[1] = 5 }
        #expect(v.scalars == [0, 0, 5, 0, 0, 0])
        #expect(t.narrowed(axis: 1, start: 1, length: 2).withUnsafeBufferPointer { Array($0) } == [5, 0, 0, 0])
    }

    @Test func layoutsOfViews() {
        #expect(base.strides == [12, 4, 1] && base.isContiguous)
        #expect(base.transposed().strides == [12, 1, 4] && !base.transposed().isContiguous)
        #expect(base.expanded(to: [5, 2, 3, 4]).strides == [0, 12, 4, 1])
        #expect(base[0][0].expanded(to: [3, 4]).strides == [0, 1])
        #expect(!base.narrowed(axis: 2, start: 0, length: 2).isContiguous)
        #expect(base.narrowed(axis: 0, start: 1, length: 1).isContiguous)
    }
}
