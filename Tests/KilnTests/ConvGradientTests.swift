import Kiln
import Testing

/// Numerical gradient checks of convolution and zero padding on small random shapes.
@Suite struct ConvGradientTests {
    @Test func conv2dPlainWithBias() {
        gradCheck([random([2, 2, 5, 4], seed: 1), random([3, 2, 3, 3], seed: 2), random([3], seed: 3)],
                  "conv2d 3×3") { t in conv2d(t[0], weight: t[1], bias: t[2]) }
    }

    @Test func conv2dStride2Padding() {
        gradCheck([random([2, 2, 6, 5], seed: 4), random([3, 2, 3, 3], seed: 5), random([3], seed: 6)],
                  "conv2d stride 2 padding 1") { t in
            conv2d(t[0], weight: t[1], bias: t[2], stride: (2, 2), padding: (1, 1))
        }
    }

    @Test func conv2dDilation2() {
        gradCheck([random([1, 2, 7, 6], seed: 7), random([2, 2, 3, 3], seed: 8), random([2], seed: 9)],
                  "conv2d dilation 2") { t in
            conv2d(t[0], weight: t[1], bias: t[2], padding: (2, 1), dilation: (2, 2))
        }
    }

    @Test func conv2dGroups2NoBias() {
        gradCheck([random([2, 4, 5, 5], seed: 10), random([4, 2, 3, 2], seed: 11)], "conv2d groups 2, no bias") { t in
            conv2d(t[0], weight: t[1], bias: nil, stride: (1, 2), padding: (1, 1), groups: 2)
        }
    }

    @Test func conv2dPointwiseOnAView() {
        // A 1×1 convolution reads its input as the patch matrix; the input here is a transposed view.
        gradCheck([random([2, 3, 4, 5], seed: 12), random([2, 3, 1, 1], seed: 13), random([2], seed: 14)],
                  "conv2d 1×1 of a transposed view") { t in
            conv2d(t[0].transposed(2, 3), weight: t[1], bias: t[2])
        }
    }

    @Test func paddedEveryAxis() {
        gradCheck([random([2, 3, 4], seed: 15)], "padded") { t in
            t[0].padded([(1, 0), (0, 2), (2, 1)], value: 0.5) * t[0].padded([(1, 0), (0, 2), (2, 1)]).exp()
        }
    }

    @Test func paddedValues() {
        let x = Tensor([1, 2, 3, 4], shape: [2, 2])
        let y = x.padded([(1, 0), (0, 1)])
        #expect(y.shape == [3, 3])
        #expect(y.scalars == [0, 0, 0, 1, 2, 0, 3, 4, 0])
        #expect(x.padded([(0, 0), (1, 1)], value: -1).scalars == [-1, 1, 2, -1, -1, 3, 4, -1])
        // No padding is a copy of the same values.
        #expect(x.padded([(0, 0), (0, 0)]).scalars == x.scalars)
        // A transposed view is padded by its logical layout.
        #expect(x.transposed().padded([(0, 1), (0, 0)]).scalars == [1, 3, 2, 4, 0, 0])
        // The option-A shortcut of ResNet: zero channels on both sides.
        let z = Tensor.ones([1, 2, 2, 2]).padded([(0, 0), (1, 1), (0, 0), (0, 0)])
        #expect(z.shape == [1, 4, 2, 2])
        #expect(z.scalars == [Float](repeating: 0, count: 4) + [Float](repeating: 1, count: 8) + [Float](repeating: 0, count: 4))
    }
}
