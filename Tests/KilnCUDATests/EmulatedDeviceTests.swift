import Foundation
import XCTest

/// Every CUDA check (`kiln-cuda-check`) against an emulated device (`Scripts/cuda-emulator`: the
/// kernel sources compiled for the CPU, a fake driver and cuBLAS, the real NVRTC), so that the
/// backend's host code and kernels are checked on machines without a GPU. Runs when
/// `KILN_TEST_CUDA_EMULATOR=1` (CI sets it; it takes a minute or two), skipped otherwise or when
/// python3, a C++ compiler, NVRTC or the built `kiln-cuda-check` is missing.
final class EmulatedDeviceTests: XCTestCase {
    private let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Runs `executable` with `arguments`; returns its exit status and combined output.
    private func run(_ executable: URL, _ arguments: [String], environment: [String: String] = [:]) throws
        -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// The first of `names` found on PATH.
    private func onPath(_ names: [String]) -> URL? {
        let folders = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        for name in names {
            for folder in folders where FileManager.default.isExecutableFile(atPath: "\(folder)/\(name)") {
                return URL(fileURLWithPath: "\(folder)/\(name)")
            }
        }
        return nil
    }

    func testEveryCheckPassesOnTheEmulatedDevice() throws {
        guard ProcessInfo.processInfo.environment["KILN_TEST_CUDA_EMULATOR"] == "1" else {
            throw XCTSkip("set KILN_TEST_CUDA_EMULATOR=1 to run the CUDA checks on the emulated device")
        }
        guard onPath(["python3"]) != nil, onPath(["g++", "clang++"]) != nil else {
            throw XCTSkip("the CUDA emulator needs python3 and a C++ compiler")
        }
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let checker = [beside.appendingPathComponent("kiln-cuda-check"), root.appendingPathComponent(".build/debug/kiln-cuda-check")]
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
        guard let checker else { throw XCTSkip("kiln-cuda-check is not built (swift build --product kiln-cuda-check)") }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-cuda-emulator-\(getpid())")
        defer { try? FileManager.default.removeItem(at: folder) }
        let build = try run(root.appendingPathComponent("Scripts/cuda-emulator/build.sh"), [folder.path])
        XCTAssertEqual(build.status, 0, "emulator build failed:\n\(build.output)")
        guard build.status == 0 else { return }
        let checks = try run(checker, [], environment: ["KILN_CUDA_LIBRARY_PATH": folder.path])
        if checks.status == 2 { throw XCTSkip("CUDA unusable with the emulated driver (no NVRTC?):\n\(checks.output)") }
        let failures = checks.output.split(separator: "\n").filter { $0.hasPrefix("FAIL") }
        XCTAssertEqual(checks.status, 0, "kiln-cuda-check exited with \(checks.status):\n"
                       + (failures.isEmpty ? String(checks.output.suffix(4000)) : failures.joined(separator: "\n")))
        XCTAssertTrue(checks.output.contains("checks passed"), checks.output)
    }
}
