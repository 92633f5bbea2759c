import Kiln
import Testing

@Suite struct StridedViewTests {
    @Test func stridedPicksEveryStepthElementAsAView() {
        let x = Tensor((0..<20).map(Float.init), shape: [2, 10])
        let y = x.strided(axis: 1, start: 1, step: 3)  // columns 1, 4, 7
        #expect(y.shape == [2, 3])
        #expect(y.sharesStorage(with: x))
        #expect(y.scalars == [1, 4, 7, 11, 14, 17])
        let z = x.strided(axis: 1, step: 2)            // columns 0, 2, 4, 6, 8
        #expect(z.scalars == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18])
        #expect(x.strided(axis: 0, start: 1, step: 5).scalars == Array((10..<20).map(Float.init)))
    }

    @Test func stridedGradient() {
        let x = random([2, 3, 7, 5], seed: 11)
        gradCheck([x], "every second row and column") { $0[0].strided(axis: 2, step: 2).strided(axis: 3, step: 2) }
        gradCheck([x], "offset stride 3") { $0[0].strided(axis: -1, start: 1, step: 3) }
    }
}
