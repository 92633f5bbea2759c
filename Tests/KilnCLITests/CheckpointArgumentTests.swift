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

@Test func checkpointOptionsAreValidated() {
    #expect(rejection(["train", "mnist-mlp", "--data-dir", "/", "--resume"])?.contains("--resume needs --checkpoint-dir") == true)
    #expect(rejection(["train", "mnist-mlp", "--data-dir", "/", "--checkpoint-dir", "d", "--checkpoint-every", "0"])?
        .contains("--checkpoint-every must be at least 1") == true)
    #expect(rejection(["train", "mnist-mlp", "--data-dir", "/", "--checkpoint-dir", "d", "--keep", "0"])?.contains("--keep must be at least 1") == true)
    #expect(rejection(["train", "mnist-mlp", "--data-dir", "/", "--log", "x.jsonl", "--log-every", "0"])?.contains("--log-every") == true)
    #expect(rejection(["train", "mnist-mlp", "--data-dir", "/", "--checkpoint-dir", "d", "--resume", "--init-from", "m.safetensors"])?
        .contains("exclude each other") == true)
    #expect(rejection(["plot"]) != nil)
    #expect(rejection(["plot", "a.jsonl", "b.jsonl", "--label", "one"])?.contains("--label given 1 times for 2 logs") == true)
}
