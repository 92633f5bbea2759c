import ArgumentParser
import Testing
import Kiln
import KilnCUDA
@testable import kiln

@Test func deviceNamesParse() throws {
    #expect(try parseDevice("cpu") == .cpu)
    #expect(try parseDevice("cuda") == .cuda(0))
    #expect(try parseDevice("cuda:3") == .cuda(3))
    for bad in ["gpu", "cuda:", "cuda:-1", "cuda:x", "CPU"] {
        #expect(throws: ValidationError.self) { try parseDevice(bad) }
    }
    do {
        _ = try KilnCommand.parseAsRoot(["train", "mnist-mlp", "--device", "tpu"])
        Issue.record("--device tpu was accepted")
    } catch {
        #expect(KilnCommand.message(for: error).contains("--device must be cpu, cuda or cuda:N, got 'tpu'"))
    }
}

/// Without a usable CUDA, `--device cuda` stops before any work with the status's explanation.
@Test(.enabled(if: !CUDA.isAvailable, "this machine can run CUDA"))
func cudaDeviceFailsWithTheStatusMessage() throws {
    let problem = try #require(CUDA.status.problem)
    for arguments in [["bench", "mlp", "--device", "cuda", "--steps", "1", "--warmup", "0"],
                      ["train", "mnist-mlp", "--device", "cuda:0", "--data-dir", "/"]] {
        var command = try KilnCommand.parseAsRoot(arguments)
        do {
            try command.run()
            Issue.record("\(arguments) ran without CUDA")
        } catch {
            let message = "\(error)"
            #expect(message.hasPrefix("CUDA is not available: " + problem), "\(message)")
            // Where the driver was looked for, as `kiln info` reports it.
            #expect(message.contains(CUDA.status.details), "\(message)")
        }
    }
}

@Test func infoHasACUDASection() {
    let section = cudaSection(CUDA.status)
    let lines = section.split(separator: "\n")
    #expect(lines.first.map(String.init) == "CUDA: " + (CUDA.status.problem.map { "not available: \($0)" } ?? "available"))
    for name in ["CUDA driver", "cuBLAS", "NVRTC"] {
        #expect(lines.contains { $0.hasPrefix("  \(name): ") }, "\(name) missing from\n\(section)")
    }
}
