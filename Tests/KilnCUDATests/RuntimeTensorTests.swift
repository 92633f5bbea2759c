import XCTest
@testable import Kiln
@testable import KilnCompute
import KilnNN
import KilnOptim

/// A stand-in for a device: storages on `.cuda(0)` whose "device address" is host memory that
/// only this backend touches, through the same `allocate` / `read` / `write` / `copy` / `fill`
/// calls a real device backend serves. It lets the device plumbing of `Tensor`, `Module` and the
/// optimizers run without a GPU; every other op stops.
private struct HostDeviceBackend: Backend {
    var device: Device { .cuda(0) }

    func allocate(_ count: Int) -> Storage {
        let capacity = max(count, 1)
        let memory = UnsafeMutablePointer<Float>.allocate(capacity: capacity)
        return Storage(device: .cuda(0), address: UInt64(UInt(bitPattern: memory)), capacity: capacity) { address, _ in
            UnsafeMutablePointer<Float>(bitPattern: UInt(address))!.deallocate()
        }
    }

    private func pointer(_ s: Storage) -> UnsafeMutablePointer<Float> {
        precondition(s.device == .cuda(0), "HostDeviceBackend: a \(s.device) storage")
        return UnsafeMutablePointer<Float>(bitPattern: UInt(s.deviceAddress))!
    }

    func read(_ src: StridedView) -> [Float] {
        let dense = Layout(contiguous: src.layout.shape)
        return [Float](unsafeUninitializedCapacity: dense.count) { buffer, n in
            if dense.count > 0 {
                stridedCopy(shape: dense.shape, to: buffer.baseAddress!, dense.strides, 0,
                            from: pointer(src.storage), src.layout.strides, src.layout.offset)
            }
            n = dense.count
        }
    }

    func write(_ values: [Float], into dst: StridedView) {
        let dense = Layout(contiguous: dst.layout.shape)
        var values = values
        values.withUnsafeMutableBufferPointer { v in
            guard let base = v.baseAddress else { return }
            stridedCopy(shape: dense.shape, to: pointer(dst.storage), dst.layout.strides, dst.layout.offset,
                        from: base, dense.strides, 0)
        }
    }

    func copy(_ src: StridedView, into dst: StridedView) {
        stridedCopy(shape: src.layout.shape, to: pointer(dst.storage), dst.layout.strides, dst.layout.offset,
                    from: pointer(src.storage), src.layout.strides, src.layout.offset)
    }

    func fill(_ dst: StridedView, value: Float) {
        write([Float](repeating: value, count: dst.layout.count), into: dst)
    }

    // Not used by these tests.
    func unary(_ op: UnaryOp, _ x: StridedView, into out: Storage) { fatalError() }
    func unaryBackward(_ op: UnaryOp, x: StridedView, y: StridedView, dy: StridedView, into dx: Storage) { fatalError() }
    func binary(_ op: BinaryOp, _ a: StridedView, _ b: StridedView, into out: Storage) { fatalError() }
    func binary(_ op: BinaryOp, _ a: StridedView, scalar s: Float, scalarFirst: Bool, into out: Storage) { fatalError() }
    func reduce(_ op: ReduceOp, _ x: StridedView, into out: StridedView) { fatalError() }
    func argmax(_ x: StridedView, axis: Int, into out: Storage) { fatalError() }
    func gemm(_ p: GemmProblem) { fatalError() }
    func softmax(_ x: StridedView, rows: Int, cols: Int, log: Bool, into y: Storage) { fatalError() }
    func softmaxBackward(y: StridedView, dy: StridedView, rows: Int, cols: Int, log: Bool, into dx: Storage) { fatalError() }
    func crossEntropy(_ logits: StridedView, labels: [Int32], rows: Int, cols: Int, smoothing: Float,
                      probs: Storage) -> Float { fatalError() }
    func crossEntropyBackward(probs: StridedView, labels: [Int32], rows: Int, cols: Int, smoothing: Float,
                              scale: Float, into dx: Storage) { fatalError() }
    func indexSelect(_ x: StridedView, width: Int, indices: [Int32], into out: Storage) { fatalError() }
    func indexAdd(_ dy: StridedView, width: Int, indices: [Int32], into dx: Storage) { fatalError() }
    func layerNorm(_ x: StridedView, weight: StridedView?, bias: StridedView?, rows: Int, cols: Int,
                   epsilon: Float, into y: Storage, mean: Storage, rstd: Storage) { fatalError() }
    func layerNormBackward(x: StridedView, weight: StridedView?, mean: Storage, rstd: Storage,
                           dy: StridedView, rows: Int, cols: Int, dx: Storage, dweight: Storage?, dbias: Storage?) { fatalError() }
    func attention(q: StridedView, k: StridedView, v: StridedView, scale: Float, causal: Bool,
                   probs: Storage, out: StridedView) { fatalError() }
    func attentionBackward(q: StridedView, k: StridedView, v: StridedView, probs: Storage,
                           dOut: StridedView, scale: Float, causal: Bool,
                           dq: StridedView, dk: StridedView, dv: StridedView) { fatalError() }
    func lstmStep(batch: Int, hidden: Int, gates: StridedView, input: TableRows?, hPrev: StridedView?,
                  weightHH: RecurrentWeight, cPrev: StridedView?, c: StridedView, tanhC: StridedView, h: StridedView) { fatalError() }
    func lstmStepBackward(batch: Int, hidden: Int, gates: StridedView, dGatesNext: StridedView?,
                          weightHH: RecurrentWeight, cPrev: StridedView?, tanhC: StridedView, dOut: StridedView?,
                          dh: StridedView, dc: StridedView, dBias: Storage?, inputGradient: TableRows?) { fatalError() }
    func gruCell(batch: Int, hidden: Int, gates: StridedView, hiddenGates: StridedView,
                 hPrev: StridedView?, h: StridedView) { fatalError() }
    func gruCellBackward(batch: Int, hidden: Int, gates: StridedView, hiddenGates: StridedView,
                         hPrev: StridedView?, dOut: StridedView?, dhCarry: StridedView,
                         dBias: Storage?, dHiddenBias: Storage?) { fatalError() }
    func dropoutMask(count: Int, p: Float, generator: RandomGenerator, into out: Storage) { fatalError() }
    func fillUniform(_ out: Storage, count: Int, low: Float, high: Float, generator: RandomGenerator) { fatalError() }
    func fillNormal(_ out: Storage, count: Int, mean: Float, std: Float, generator: RandomGenerator) { fatalError() }
    func conv2d(_ x: StridedView, weight: StridedView, bias: StridedView?, _ g: Conv2dGeometry, into out: Storage) { fatalError() }
    func conv2dBackward(_ dy: StridedView, x: StridedView, weight: StridedView, _ g: Conv2dGeometry,
                        dx: Storage?, dWeight: Storage?, dBias: Storage?) { fatalError() }
    func maxPool2d(_ x: StridedView, _ g: Pool2dGeometry, into out: Storage, indices: Storage) { fatalError() }
    func maxPool2dBackward(_ dy: StridedView, indices: Storage, _ g: Pool2dGeometry, into dx: Storage) { fatalError() }
    func avgPool2d(_ x: StridedView, _ g: Pool2dGeometry, into out: Storage) { fatalError() }
    func avgPool2dBackward(_ dy: StridedView, _ g: Pool2dGeometry, into dx: Storage) { fatalError() }
    func batchNorm(_ x: StridedView, batch: Int, channels: Int, spatial: Int,
                   weight: StridedView?, bias: StridedView?, runningMean: StridedView?, runningVar: StridedView?,
                   training: Bool, momentum: Float, epsilon: Float,
                   into out: Storage, saveMean: Storage, saveInvStd: Storage) { fatalError() }
    func batchNormBackward(_ dy: StridedView, x: StridedView, batch: Int, channels: Int, spatial: Int,
                           weight: StridedView?, saveMean: Storage, saveInvStd: Storage, training: Bool,
                           dx: Storage?, dWeight: Storage?, dBias: Storage?) { fatalError() }
}

/// Moving tensors, modules and optimizer state between devices, on the stand-in device.
final class RuntimeTensorTests: XCTestCase {
    private var saved: (any Backend)?

    override func setUpWithError() throws {
        if BackendRegistry.cuda != nil { throw XCTSkip("a real CUDA backend is active in this process") }
        BackendRegistry.cuda = HostDeviceBackend()
    }

    override func tearDown() { BackendRegistry.cuda = nil }

    func testStridedViewGoesToTheDeviceAndBackInRowMajorOrder() {
        let x = Tensor((0..<6).map(Float.init), shape: [2, 3]).transposed(0, 1)  // [[0,3],[1,4],[2,5]]
        let d = x.to(.cuda(0))
        XCTAssertEqual(d.device, .cuda(0))
        XCTAssertEqual(d.shape, [3, 2])
        XCTAssertFalse(d.sharesStorage(with: x))
        XCTAssertEqual(d.scalars, [0, 3, 1, 4, 2, 5])
        let back = d.transposed(0, 1).to(.cpu)
        XCTAssertEqual(back.device, .cpu)
        XCTAssertEqual(back.scalars, [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(d.narrowed(axis: 0, start: 2, length: 1).narrowed(axis: 1, start: 1, length: 1).item, 5)
        XCTAssertEqual(x.to(.cpu).storage === x.storage, true, "same device: no copy")
        XCTAssertEqual(d.withUnsafeBufferPointer { Array($0) }, [0, 3, 1, 4, 2, 5])
    }

    func testHostWritesToADeviceTensorReachTheDevice() {
        let d = Tensor([1, 2, 3, 4]).to(.cuda(0))
        d.withUnsafeMutableBufferPointer { b in for i in b.indices { b[i] *= 10 } }
        XCTAssertEqual(d.scalars, [10, 20, 30, 40])
        d.assign(Tensor([5, 6, 7, 8]))   // from the CPU
        XCTAssertEqual(d.scalars, [5, 6, 7, 8])
        let c = Tensor.zeros([4])
        c.assign(d)                       // to the CPU
        XCTAssertEqual(c.scalars, [5, 6, 7, 8])
        XCTAssertEqual(Tensor.full([2, 2], 1.5, device: .cuda(0)).scalars, [1.5, 1.5, 1.5, 1.5])
        XCTAssertEqual(Tensor.arange(0, 3, device: .cuda(0)).scalars, [0, 1, 2])
    }

    func testGradientOfAMoveGoesBackToTheSourceDevice() {
        let x = Tensor([1, -2, 3]).requiringGrad()
        let y = x.to(.cuda(0)).to(.cpu) * Tensor([2, 3, 4])
        y.sum().backward()
        XCTAssertEqual(x.grad?.device, .cpu)
        XCTAssertEqual(x.grad?.scalars, [2, 3, 4])
    }

    func testModuleMovesParametersGradientsAndBuffersInPlace() throws {
        let generator = RandomGenerator(seed: 3)
        let model = Sequential(Linear(3, 4, generator: generator), BatchNorm1d(4))
        let parameters = model.parameters()
        let before = model.stateDict().map { ($0.0, $0.1.scalars) }
        parameters[0].grad = Tensor.full(parameters[0].shape, 0.25)

        model.to(.cuda(0))

        XCTAssertEqual(model.device, .cuda(0))
        XCTAssertTrue(zip(model.parameters(), parameters).allSatisfy { $0 === $1 }, "same Parameter objects")
        for ((name, tensor), (_, values)) in zip(model.stateDict(), before) {
            XCTAssertEqual(tensor.device, .cuda(0), name)
            XCTAssertEqual(tensor.scalars, values, name)
        }
        XCTAssertEqual(parameters[0].grad?.device, .cuda(0))
        XCTAssertEqual(parameters[0].grad?.scalars, [Float](repeating: 0.25, count: 12))

        model.to(.cpu)
        for ((name, tensor), (_, values)) in zip(model.stateDict(), before) {
            XCTAssertEqual(tensor.device, .cpu, name)
            XCTAssertEqual(tensor.scalars, values, name)
        }
    }

    func testOptimizerStateMovesWithTo() throws {
        let p = Parameter(Tensor([1, 2]))
        let sgd = SGD([p], learningRate: 0.1, momentum: 0.9)
        p.grad = Tensor([1, 1])
        sgd.step()                                    // momentum buffer = grad = [1, 1]
        let buffers = sgd.saveState().tensors
        XCTAssertFalse(buffers.isEmpty)
        sgd.to(.cuda(0))
        for (name, tensor) in sgd.saveState().tensors {
            XCTAssertEqual(tensor.device, .cuda(0), name)
            XCTAssertEqual(tensor.scalars, [1, 1], name)
        }
        sgd.to(.cpu)
        XCTAssertEqual(sgd.saveState().tensors.first?.1.device, .cpu)
    }
}
