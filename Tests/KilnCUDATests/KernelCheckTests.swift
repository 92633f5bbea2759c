import XCTest
import KilnCUDA
import KilnCUDACheck

/// The CUDA backend against the CPU backend, op by op and through training steps of small models
/// (the bodies are shared with `kiln-cuda-check`). Skipped, with the reason, without a usable GPU.
final class KernelCheckTests: XCTestCase {
    private func run(_ group: String) throws {
        let (backend, reason) = CUDAChecks.backend()
        guard let backend else {
            print("KernelCheckTests skipped: \(reason)")
            throw XCTSkip("CUDA is not available: \(reason)")
        }
        let results = CUDAChecks.run(backend, filter: group)
        XCTAssertFalse(results.isEmpty, "no checks in group \(group)")
        for result in results where !result.passed { XCTFail(result.line) }
    }

    func testElementwise() throws { try run("elementwise") }
    func testReductions() throws { try run("reduce") }
    func testMatrixProducts() throws { try run("matmul") }
    func testSoftmaxAndCrossEntropy() throws { try run("softmax") }
    func testEmbedding() throws { try run("embedding") }
    func testLayerNorm() throws { try run("layernorm") }
    func testAttention() throws { try run("attention") }
    func testRecurrentCells() throws { try run("recurrent") }
    func testRandomFills() throws { try run("random") }
    func testConvolutions() throws { try run("conv") }
    func testPooling() throws { try run("pool") }
    func testBatchNorm() throws { try run("batchnorm") }
    func testOptimizerUpdates() throws { try run("optimizer") }
    func testTrainingSteps() throws { try run("training") }
}
