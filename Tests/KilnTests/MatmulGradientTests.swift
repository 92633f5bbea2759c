import Kiln
import Testing

@Suite struct MatmulGradientTests {
    @Test func plain2D() {
        gradCheck([random([3, 4], seed: 1), random([4, 5], seed: 2)], "[3,4]·[4,5]") { $0[0].matmul($0[1]) }
        gradCheck([random([1, 4], seed: 1), random([4, 1], seed: 2)], "[1,4]·[4,1]") { matmul($0[0], $0[1]) }
    }

    @Test func batched() {
        gradCheck([random([2, 3, 4], seed: 3), random([2, 4, 5], seed: 4)], "[2,3,4]·[2,4,5]") { $0[0].matmul($0[1]) }
        gradCheck([random([2, 3, 4], seed: 5), random([4, 5], seed: 6)], "[2,3,4]·[4,5]") { $0[0].matmul($0[1]) }
        gradCheck([random([3, 4], seed: 7), random([2, 4, 5], seed: 8)], "[3,4]·[2,4,5]") { $0[0].matmul($0[1]) }
        gradCheck([random([2, 1, 3, 4], seed: 9), random([3, 4, 2], seed: 10)], "[2,1,3,4]·[3,4,2]") { $0[0].matmul($0[1]) }
        gradCheck([random([2, 1, 3, 4], seed: 11), random([1, 3, 4, 2], seed: 12)], "[2,1,3,4]·[1,3,4,2]") {
            $0[0].matmul($0[1])
        }
    }

    @Test func nonContiguousOperands() {
        // Transposed views go to BLAS as transpose flags.
        gradCheck([random([4, 3], seed: 13), random([5, 4], seed: 14)], "aᵀ·bᵀ") {
            $0[0].transposed().matmul($0[1].transposed())
        }
        // Slices with a leading dimension larger than the row.
        gradCheck([random([3, 6], seed: 15), random([4, 7], seed: 16)], "narrowed·narrowed") {
            $0[0].narrowed(axis: 1, start: 1, length: 4).matmul($0[1].narrowed(axis: 1, start: 2, length: 5))
        }
        // A batch of transposed matrices, and a permuted batch whose matrices interleave.
        gradCheck([random([2, 4, 3], seed: 17), random([4, 2, 5], seed: 18)], "batchedᵀ · permuted") {
            $0[0].transposed().matmul($0[1].permuted([1, 0, 2]))
        }
        // A row broadcast down the matrix (stride 0 between rows) and a column broadcast across it.
        gradCheck([random([1, 4], seed: 19), random([4, 1], seed: 20)], "expanded rows · expanded columns") {
            $0[0].expanded(to: [3, 4]).matmul($0[1].expanded(to: [4, 5]))
        }
        // Every other column (stride 2 within a row): BLAS can't read it, so it is copied.
        gradCheck([random([3, 8], seed: 21), random([4, 2], seed: 22)], "strided columns") {
            $0[0].reshaped([3, 4, 2]).narrowed(axis: 2, start: 0, length: 1).reshaped([3, 4]).matmul($0[1])
        }
    }

    @Test func linearLayerOp() {
        let x = random([5, 4], seed: 23), w = random([3, 4], seed: 24), b = random([3], seed: 25)
        gradCheck([x, w, b], "linear with bias") { linear($0[0], weight: $0[1], bias: $0[2]) }
        gradCheck([x, w], "linear without bias") { linear($0[0], weight: $0[1], bias: nil) }
        gradCheck([random([2, 5, 4], seed: 26), w, b], "linear on 3-D input") { linear($0[0], weight: $0[1], bias: $0[2]) }
        gradCheck([random([4, 5], seed: 27), random([4, 3], seed: 28), b], "linear on transposed x and weight") {
            linear($0[0].transposed(), weight: $0[1].transposed(), bias: $0[2])
        }
        gradCheck([random([4], seed: 29), w, b], "linear on a vector") { linear($0[0], weight: $0[1], bias: $0[2]) }
    }
}
