import Kiln
import Testing

@Suite struct DescriptionTests {
    @Test func matrix() {
        let t = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        #expect(t.description == "tensor([[1., 2., 3.],\n        [4., 5., 6.]], shape: [2, 3])")
        // A transposed view prints its own elements, not the storage order.
        #expect(t.transposed().description == "tensor([[1., 4.],\n        [2., 5.],\n        [3., 6.]], shape: [3, 2])")
    }

    @Test func alignmentAndSpecialValues() {
        let t = Tensor([0.5, -12, .infinity, .nan], shape: [2, 2])
        #expect(t.description == "tensor([[ 0.5, -12.],\n        [ inf,  nan]], shape: [2, 2])")
        #expect(Tensor(scalar: 3).description == "tensor(3.)")
        #expect(Tensor([-1.25]).description == "tensor([-1.25], shape: [1])")
    }

    @Test func longNumbersKeepTheirExponent() {
        #expect(Tensor([1.2345678e-05, 0.123456789]).description == "tensor([1.2345e-05, 0.12345679], shape: [2])")
        #expect(Tensor([-3.4028235e+38]).description == "tensor([-3.402e+38], shape: [1])")
        #expect(Tensor([], shape: [0, 3]).description == "tensor([], shape: [0, 3])")
    }

    @Test func rank3SeparatesBlocksWithABlankLine() {
        let t = Tensor.arange(0, 8).reshaped([2, 2, 2])
        #expect(t.description == """
            tensor([[[0., 1.],
                     [2., 3.]],

                    [[4., 5.],
                     [6., 7.]]], shape: [2, 2, 2])
            """)
    }

    @Test func longAxesAreElided() {
        let t = Tensor.arange(0, 2000)
        #expect(t.description == "tensor([   0.,    1.,    2., ..., 1997., 1998., 1999.], shape: [2000])")
    }

    @Test func debugDescriptionShowsTheLayout() {
        let t = Tensor([1, 2, 3, 4], shape: [2, 2]).transposed()
        #expect(t.debugDescription.hasSuffix("strides: [1, 2] contiguous: false requiresGrad: false"))
    }
}
