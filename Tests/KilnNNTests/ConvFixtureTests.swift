import Foundation
import KilnNN
import Testing

/// Convolution and batch-norm values, forward and backward, against PyTorch
/// (`Scripts/make_conv_fixtures.py` wrote `Fixtures/conv_*.json`).
@Suite struct ConvFixtureTests {
    struct Stored: Decodable {
        let shape: [Int]
        let data: [Float]
        var tensor: Tensor { Tensor(data, shape: shape) }
    }

    struct ConvCase: Decodable {
        let name: String
        let stride: [Int], padding: [Int], dilation: [Int]
        let groups: Int
        let x: Stored, weight: Stored, bias: Stored?
        let y: Stored, dy: Stored, dx: Stored, dweight: Stored, dbias: Stored?
    }

    struct BatchNormCase: Decodable {
        let name: String, kind: String
        let affine: Bool
        let momentum: Float, epsilon: Float
        let weight: Stored?, bias: Stored?
        let inputs: [Stored]
        let runningMean: [[Float]], runningVar: [[Float]]
        let y: Stored, dy: Stored, dx: Stored, dweight: Stored?, dbias: Stored?
        let numBatchesTracked: Int
        let evalInput: Stored, evalY: Stored, evalDy: Stored, evalDx: Stored
    }

    struct File<Case: Decodable>: Decodable {
        let generator: String
        let cases: [Case]
    }

    static func load<Case: Decodable>(_ name: String, as: Case.Type) throws -> [Case] {
        let folder = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil),
                                  "the Fixtures folder is missing from the test bundle")
        let data = try Data(contentsOf: folder.appendingPathComponent(name))
        let file = try JSONDecoder().decode(File<Case>.self, from: data)
        #expect(file.generator == "Scripts/make_conv_fixtures.py")
        return file.cases
    }

    @Test func conv2dMatchesPyTorch() throws {
        let cases = try Self.load("conv_conv2d.json", as: ConvCase.self)
        #expect(cases.count >= 6)
        for c in cases {
            let x = c.x.tensor.requiringGrad(), w = c.weight.tensor.requiringGrad(), b = c.bias?.tensor.requiringGrad()
            let y = conv2d(x, weight: w, bias: b, stride: (c.stride[0], c.stride[1]), padding: (c.padding[0], c.padding[1]),
                           dilation: (c.dilation[0], c.dilation[1]), groups: c.groups)
            #expect(y.shape == c.y.shape, "\(c.name): output shape")
            expectClose(y.scalars, c.y.data, atol: 1e-5, rtol: 1e-5, "\(c.name): y")
            (y * c.dy.tensor).sum().backward()
            expectClose(x.grad!.scalars, c.dx.data, atol: 1e-5, rtol: 1e-5, "\(c.name): dx")
            expectClose(w.grad!.scalars, c.dweight.data, atol: 1e-5, rtol: 1e-5, "\(c.name): dweight")
            if let b, let db = c.dbias { expectClose(b.grad!.scalars, db.data, atol: 1e-5, rtol: 1e-5, "\(c.name): dbias") }
        }
    }

    @Test func conv2dLayerMatchesPyTorch() throws {
        let c = try #require(try Self.load("conv_conv2d.json", as: ConvCase.self).first { $0.name == "stride2_padding" })
        let layer = Conv2d(c.x.shape[1], c.weight.shape[0], kernelSize: 3, stride: 2, padding: 1)
        layer.weight.assign(c.weight.tensor)
        layer.bias!.assign(c.bias!.tensor)
        let y = layer(c.x.tensor)
        expectClose(y.scalars, c.y.data, atol: 1e-5, rtol: 1e-5, "layer y")
        (y * c.dy.tensor).sum().backward()
        expectClose(layer.weight.grad!.scalars, c.dweight.data, atol: 1e-5, rtol: 1e-5, "layer dweight")
        expectClose(layer.bias!.grad!.scalars, c.dbias!.data, atol: 1e-5, rtol: 1e-5, "layer dbias")
    }

    @Test func batchNormMatchesPyTorch() throws {
        let cases = try Self.load("conv_batchnorm.json", as: BatchNormCase.self)
        #expect(cases.count >= 5)
        for c in cases {
            let features = c.inputs[0].shape[1]
            let bn: BatchNorm = c.kind == "2d"
                ? BatchNorm2d(features, epsilon: c.epsilon, momentum: c.momentum, affine: c.affine)
                : BatchNorm1d(features, epsilon: c.epsilon, momentum: c.momentum, affine: c.affine)
            let apply = { (x: Tensor) -> Tensor in
                (bn as? BatchNorm2d)?.callAsFunction(x) ?? (bn as! BatchNorm1d).callAsFunction(x)
            }
            if let w = c.weight, let b = c.bias {
                bn.weight!.assign(w.tensor)
                bn.bias!.assign(b.tensor)
            }
            // Training steps: running statistics after each.
            var last: (x: Tensor, y: Tensor)?
            for (step, input) in c.inputs.enumerated() {
                let x = input.tensor.requiringGrad()
                let y = apply(x)
                expectClose(bn.runningMean.scalars, c.runningMean[step], atol: 1e-6, rtol: 1e-5, "\(c.name): running mean \(step)")
                expectClose(bn.runningVar.scalars, c.runningVar[step], atol: 1e-5, rtol: 1e-5, "\(c.name): running var \(step)")
                last = (x, y)
            }
            let (x, y) = try #require(last)
            expectClose(y.scalars, c.y.data, atol: 1e-5, rtol: 1e-4, "\(c.name): y")
            bn.zeroGrad()
            (y * c.dy.tensor).sum().backward()
            expectClose(x.grad!.scalars, c.dx.data, atol: 1e-5, rtol: 1e-4, "\(c.name): dx")
            if let dw = c.dweight, let db = c.dbias {
                expectClose(bn.weight!.grad!.scalars, dw.data, atol: 1e-4, rtol: 1e-4, "\(c.name): dweight")
                expectClose(bn.bias!.grad!.scalars, db.data, atol: 1e-4, rtol: 1e-4, "\(c.name): dbias")
            }
            #expect(Int(bn.numBatchesTracked.item) == c.numBatchesTracked, "\(c.name): num_batches_tracked")
            // Evaluation with the accumulated running statistics.
            bn.eval()
            let xe = c.evalInput.tensor.requiringGrad()
            let ye = apply(xe)
            expectClose(ye.scalars, c.evalY.data, atol: 1e-5, rtol: 1e-4, "\(c.name): eval y")
            (ye * c.evalDy.tensor).sum().backward()
            expectClose(xe.grad!.scalars, c.evalDx.data, atol: 1e-5, rtol: 1e-4, "\(c.name): eval dx")
        }
    }
}
