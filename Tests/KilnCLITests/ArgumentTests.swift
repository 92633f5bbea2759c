import ArgumentParser
import Testing
@testable import KilnModels
@testable import kiln

/// The message the CLI would print for `arguments`, or nil when they parse and validate.
private func rejection(_ arguments: [String]) -> String? {
    do {
        _ = try KilnCommand.parseAsRoot(arguments)
        return nil
    } catch {
        return KilnCommand.message(for: error)
    }
}

@Test func unknownModelIsRejectedByName() {
    let message = rejection(["train", "mnist-transformer"])
    #expect(message?.contains("mnist-transformer") == true)
    #expect(message?.contains("mnist-mlp") == true)  // lists what is possible
}

@Test func nonPositiveNumbersAreRejected() {
    #expect(rejection(["train", "mnist-mlp", "--epochs", "0"])?.contains("--epochs must be at least 1") == true)
    #expect(rejection(["train", "mnist-mlp", "--epochs", "-3"]) != nil)
    #expect(rejection(["train", "mnist-mlp", "--batch-size", "0"])?.contains("--batch-size") == true)
    #expect(rejection(["train", "mnist-mlp", "--lr=-0.1"])?.contains("--lr must be a positive number, got -0.1") == true)
    #expect(rejection(["train", "mnist-mlp", "--lr", "0"])?.contains("--lr must be a positive number") == true)
    #expect(rejection(["train", "mnist-mlp", "--threads", "0"])?.contains("--threads must be at least 1") == true)
    #expect(rejection(["bench", "--steps", "0"])?.contains("--steps must be at least 1") == true)
    #expect(rejection(["train", "mnist-mlp", "--optimizer", "lbfgs"])?.contains("lbfgs") == true)
    #expect(rejection(["train", "mnist-cnn", "--label-smoothing", "1"])?
        .contains("--label-smoothing must be at least 0 and below 1, got 1.0") == true)
    #expect(rejection(["train", "mnist-cnn", "--label-smoothing=-0.1"])?.contains("--label-smoothing") == true)
    #expect(rejection(["train", "char-gpt", "--label-smoothing", "0.1"])?.contains("apply to the classifiers") == true)
    #expect(rejection(["train", "char-lstm", "--no-augment"])?.contains("apply to the classifiers") == true)
}

@Test func missingDataDirectoryNamesTheFetchScript() {
    let message = rejection(["train", "mnist-mlp", "--data-dir", "/nonexistent/kiln-data"])
    #expect(message?.contains("/nonexistent/kiln-data") == true)
    #expect(message?.contains("Scripts/fetch-data.sh") == true)
}

@Test func unknownWorkloadListsTheKnownOnes() {
    let message = rejection(["bench", "mlp", "vgg16"])
    #expect(message?.contains("unknown workload 'vgg16'") == true)
    #expect(message?.contains("mlp") == true)
}

@Test func validArgumentsParse() throws {
    let command = try KilnCommand.parseAsRoot(["bench", "mlp", "--steps", "5", "--warmup", "0", "--threads", "1", "--json"])
    let bench = try #require(command as? Bench)
    #expect(bench.workloads == ["mlp"] && bench.steps == 5 && bench.warmup == 0 && bench.json)
    #expect(bench.compute.threads == 1)
}

@Test func benchJSONHasTheIssueFields() {
    let r = BenchResult(workload: "gpt", unit: "tokens", threads: 2, batchSize: 32, unitsPerStep: 32 * 128,
                        flopsPerUnit: 5.55e6, stepSeconds: [0.2, 0.25, 0.3], sgemmPeakGFLOPS: 200,
                        peakResidentBytes: 1 << 20)
    let json = benchJSON(r, hourlyCost: 0.9).description
    for key in ["unit", "flops_per_sample", "peak_fraction", "step_ms_p10", "step_ms_p90", "step_ms_median",
                "tokens_per_second", "gflops", "epoch_seconds", "epoch_cost_usd", "cost_per_million_tokens_usd"] {
        #expect(json.contains("\"\(key)\":"), "missing \(key) in \(json)")
    }
    #expect(json.contains("710400000"))  // 5.55e6 FLOPs per token × 128 tokens per sample
}

@Test func benchRejectsBadDevicesAndOptions() {
    // `--device cuda` parses; without CUDA it fails when run (DeviceArgumentTests).
    #expect(rejection(["bench", "mlp", "--device", "cuda"]) == nil)
    #expect(rejection(["bench", "mlp", "--device", "tpu"])?.contains("cpu") == true)
    #expect(rejection(["bench", "mlp", "--hourly-cost=-1"])?.contains("--hourly-cost") == true)
    #expect(rejection(["bench", "--profile"])?.contains("exactly one workload") == true)
    #expect(rejection(["bench", "mlp", "--device", "cpu", "--hourly-cost", "0.9", "--json"]) == nil)
    #expect(rejection(["train", "mnist-mlp", "--hourly-cost=-2"])?.contains("--hourly-cost") == true)
}
