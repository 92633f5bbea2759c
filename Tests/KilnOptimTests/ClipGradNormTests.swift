import Kiln
import KilnOptim
import Testing

/// clip_grad_norm.json: gradients before and after torch.nn.utils.clip_grad_norm_, and its norm.
struct ClipFixture: Decodable {
    struct Case: Decodable, CustomTestStringConvertible {
        var name: String
        var maxNorm: Double
        var norm: Double
        var before: [[Double]?]
        var after: [[Double]?]

        var testDescription: String { name }
    }

    var shapes: [[Int]]
    var cases: [Case]
}

@Suite("Gradient clipping")
struct ClipGradNormTests {
    @Test("matches torch.nn.utils.clip_grad_norm_",
          arguments: try loadFixture("clip_grad_norm.json", as: ClipFixture.self).cases)
    func matchesPyTorch(_ c: ClipFixture.Case) throws {
        let fixture = try loadFixture("clip_grad_norm.json", as: ClipFixture.self)
        let parameters = fixture.shapes.map { Parameter(Tensor.zeros($0)) }
        for (index, parameter) in parameters.enumerated() {
            parameter.grad = c.before[index].map { Tensor($0.map(Float.init), shape: fixture.shapes[index]) }
        }
        let norm = clipGradNorm(parameters, maxNorm: Float(c.maxNorm))
        expectClose([norm], [c.norm], "\(c.name): returned norm")
        for (index, parameter) in parameters.enumerated() {
            #expect((parameter.grad == nil) == (c.after[index] == nil), "\(c.name): grad \(index) presence")
            if let grad = parameter.grad, let expected = c.after[index] {
                expectClose(grad.scalars, expected, "\(c.name): grad \(index) after clipping")
            }
        }
    }

    @Test("a 3-4-12 gradient has norm 13 and is scaled by maxNorm / (13 + 1e-6) (by hand)")
    func byHand() {
        let a = Parameter(Tensor.zeros([2])), b = Parameter(Tensor.zeros([1]))
        a.grad = Tensor([3, 4], shape: [2])
        b.grad = Tensor([12], shape: [1])
        #expect(clipGradNorm([a, b], maxNorm: 13) == 13)
        #expect(a.grad?.scalars == [3, 4], "a norm equal to maxNorm is not clipped")

        let norm = clipGradNorm([a, b], maxNorm: 6.5)
        #expect(norm == 13)
        let factor = 6.5 / (13 + 1e-6)
        expectClose(a.grad?.scalars ?? [], [3 * factor, 4 * factor], "a.grad")
        expectClose(b.grad?.scalars ?? [], [12 * factor], "b.grad")
        expectClose([clipGradNorm([a, b], maxNorm: 100)], [6.5], "norm after clipping")
    }

    @Test("the norm of many elements is accumulated accurately")
    func accurateSum() {
        // 100_003 elements of 0.1 (not a float): exact norm √(100_003) · Float(0.1).
        let count = 100_003
        let parameter = Parameter(Tensor.zeros([count]))
        parameter.grad = Tensor([Float](repeating: 0.1, count: count), shape: [count])
        let norm = clipGradNorm([parameter], maxNorm: 1_000)
        expectClose([norm], [Double(count).squareRoot() * Double(Float(0.1))], relative: 1e-7,
                    absolute: 0, "norm")
    }

    @Test("a gradient shared by two parameters is scaled once")
    func sharedGradient() {
        let a = Parameter(Tensor.zeros([2])), b = Parameter(Tensor.zeros([2]))
        let shared = Tensor([3, 4], shape: [2])
        a.grad = shared
        b.grad = shared
        let norm = clipGradNorm([a, b], maxNorm: 1)
        expectClose([norm], [(50.0).squareRoot()], "norm counts both parameters")
        let factor = 1 / ((50.0).squareRoot() + 1e-6)
        expectClose(a.grad?.scalars ?? [], [3 * factor, 4 * factor], "a.grad")
        expectClose(b.grad?.scalars ?? [], [3 * factor, 4 * factor], "b.grad")
    }

    @Test("strided and broadcast gradients are scaled element by element")
    func viewGradients() {
        let a = Parameter(Tensor.zeros([2, 2])), b = Parameter(Tensor.zeros([3]))
        a.grad = Tensor([1, 2, 3, 4], shape: [2, 2]).transposed()
        b.grad = Tensor([2], shape: [1]).expanded(to: [3])
        let norm = clipGradNorm([a, b], maxNorm: 1)
        expectClose([norm], [(42.0).squareRoot()], "norm over the views' elements")
        let factor = 1 / ((42.0).squareRoot() + 1e-6)
        expectClose(a.grad?.scalars ?? [], [1, 3, 2, 4].map { $0 * factor }, "transposed grad")
        expectClose(b.grad?.scalars ?? [], [2, 2, 2].map { $0 * factor }, "broadcast grad")
    }

    @Test("a non-finite norm is returned and leaves the gradients alone")
    func nonFinite() {
        let a = Parameter(Tensor.zeros([2]))
        a.grad = Tensor([.infinity, 1], shape: [2])
        #expect(clipGradNorm([a], maxNorm: 1) == .infinity)
        #expect(a.grad?.scalars == [.infinity, 1])
        #expect(clipGradNorm([Parameter(Tensor.zeros([3]))], maxNorm: 1) == 0, "no gradients at all")
    }
}
