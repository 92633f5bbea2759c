import Foundation
import Testing
@testable import KilnModels
import KilnNN

/// Files made by Scripts/make_safetensors_fixtures.py (PyTorch) and by Kiln, and PyTorch's outputs.
private let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!

private struct Interop: Decodable {
    let mlp_input: [Float]
    let mlp_torch_output: [Float]
    let mlp_kiln_output_in_torch: [Float]
    let cnn_output: [Float]
    let resnet20_output: [Float]
}

private func interop() throws -> Interop {
    try JSONDecoder().decode(Interop.self, from: Data(contentsOf: fixtures.appendingPathComponent("safetensors_interop.json")))
}

private func maxError(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "\(a.count) values vs \(b.count)")
    return zip(a, b).map { Swift.abs($0 - $1) }.max() ?? 0
}

/// The weights the script's `formula_state` gives (tensor k = index of its name in sorted order).
private func setFormulaWeights(_ model: Module) {
    let state = model.stateDict()
    let names = state.map(\.0).sorted()
    var values: [String: Tensor] = [:]
    for (name, tensor) in state {
        let k = names.firstIndex(of: name)!
        let n = tensor.count
        let m = (0..<n).map { ($0 * 7919 + k * 104_729) % 1009 - 504 }
        let scalars: [Float]
        if name.hasSuffix("num_batches_tracked") {
            scalars = [Float(k)]
        } else if name.hasSuffix("running_var") {
            scalars = m.map { Float(1 + Double(Swift.abs($0)) / 1008) }
        } else {
            let fanIn = tensor.rank >= 2 ? n / tensor.shape[0] : tensor.shape[0]
            scalars = m.map { Float(Double($0) / (504 * Double(fanIn).squareRoot())) }
        }
        values[name] = Tensor(scalars, shape: tensor.shape)
    }
    try! model.loadStateDict(values)
}

/// The script's `formula_input`.
private func formulaInput(_ shape: [Int]) -> Tensor {
    let n = shape.reduce(1, *)
    return Tensor((0..<n).map { Float(Double(($0 * 31337) % 2003 - 1001) / 1001) }, shape: shape)
}

private func evalOutput(_ model: any Layer, _ input: Tensor) -> [Float] {
    model.eval()
    return noGrad { model(input).scalars }
}

@Suite struct SafeTensorsInteropTests {
    @Test func pyTorchWrittenMLPLoadsAndGivesPyTorchsOutputs() throws {
        let io = try interop()
        let model = makeMLP(inputs: 20, hidden: 16, generator: RandomGenerator(seed: 3))
        let metadata = try model.loadSafeTensors(from: fixtures.appendingPathComponent("mlp_small_torch.safetensors").path)
        #expect(metadata["format"] == "pt")
        let error = maxError(evalOutput(model, Tensor(io.mlp_input, shape: [4, 20])), io.mlp_torch_output)
        print("PyTorch -> Kiln mlp (20-16-16-10): max |Kiln - PyTorch| = \(error)")
        #expect(error <= 1e-6)
    }

    @Test func kilnWrittenFileIsWhatPyTorchRead() throws {
        let model = makeMLP(inputs: 20, hidden: 16, generator: RandomGenerator(seed: 42))
        let bytes = model.safeTensorsBytes(metadata: ["format": "pt"])
        if ProcessInfo.processInfo.environment["KILN_WRITE_FIXTURES"] != nil {
            let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("Fixtures/mlp_small_kiln.safetensors")
            try Data(bytes).write(to: source)
            print("wrote \(source.path); now run Scripts/make_safetensors_fixtures.py")
        }
        // The committed file is byte for byte what Kiln writes today, and PyTorch loaded it
        // (load_file + load_state_dict(strict=True)) and ran it on the same batch.
        let committed = try Data(contentsOf: fixtures.appendingPathComponent("mlp_small_kiln.safetensors"))
        #expect([UInt8](committed) == bytes)
        let io = try interop()
        let error = maxError(evalOutput(model, Tensor(io.mlp_input, shape: [4, 20])), io.mlp_kiln_output_in_torch)
        print("Kiln -> PyTorch mlp (20-16-16-10): max |PyTorch - Kiln| = \(error)")
        #expect(error <= 1e-6)
    }

    @Test func convolutionalModelsMatchPyTorchThroughSafeTensors() throws {
        let io = try interop()
        let cases: [(String, () -> any Layer, [Int], [Float], Float)] = [
            ("cnn", { MNISTConvNet() }, [2, 1, 28, 28], io.cnn_output, 1e-6),
            ("resnet20", { ResNet20() }, [2, 3, 32, 32], io.resnet20_output, 1e-6),
        ]
        for (name, make, shape, expected, tolerance) in cases {
            let source = make()
            setFormulaWeights(source)
            // Through a file: Kiln writes it, a fresh model reads it.
            let model = make()
            try model.loadSafeTensors(SafeTensors(bytes: source.safeTensorsBytes()))
            let error = maxError(evalOutput(model, formulaInput(shape)), expected)
            let scale = expected.map { Swift.abs($0) }.max()!
            print("\(name): max |Kiln - PyTorch| = \(error) (outputs up to \(scale))")
            #expect(error <= tolerance, "\(name)")
        }
    }

    /// By hand, with full-size models (see the script's --full and --verify).
    @Test func fullSizeInteropByHand() throws {
        guard let directory = ProcessInfo.processInfo.environment["KILN_INTEROP_DIR"] else { return }
        struct Case: Decodable { let shape: [Int]; let input: [Float]; let output: [Float] }
        let io = try JSONDecoder().decode([String: Case].self,
                                          from: Data(contentsOf: URL(fileURLWithPath: directory + "/full_io.json")))
        let makers: [(String, () -> any Layer)] = [("mlp", { makeMLP() }), ("cnn", { MNISTConvNet() }), ("resnet20", { ResNet20() })]
        var kilnOutputs: [String: [Float]] = [:]
        for (name, make) in makers {
            let c = try #require(io[name])
            let input = Tensor(c.input, shape: c.shape)
            let model = make()
            try model.loadSafeTensors(from: directory + "/\(name)_torch.safetensors")
            print("PyTorch -> Kiln \(name): max |Kiln - PyTorch| = \(maxError(evalOutput(model, input), c.output))")
            // Kiln's own initial weights, for PyTorch to load.
            RandomGenerator.global.reseed(7)
            let own = make()
            try own.saveSafeTensors(to: directory + "/\(name)_kiln.safetensors", metadata: ["format": "pt"])
            kilnOutputs[name] = evalOutput(own, input)
        }
        try JSONEncoder().encode(kilnOutputs).write(to: URL(fileURLWithPath: directory + "/kiln_outputs.json"))
    }
}
