import ArgumentParser
import Testing
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
