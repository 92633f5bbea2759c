import ArgumentParser
import Kiln
import KilnCUDA

/// The device named on the command line: `cpu`, `cuda` (device 0) or `cuda:N`.
func parseDevice(_ text: String) throws -> Device {
    if text == "cpu" { return .cpu }
    if text == "cuda" { return .cuda(0) }
    if text.hasPrefix("cuda:"), let n = Int(text.dropFirst(5)), n >= 0 { return .cuda(n) }
    throw ValidationError("--device must be cpu, cuda or cuda:N, got '\(text)'")
}

/// Makes `device` ready to run on: for CUDA, loads the libraries and activates the device.
/// - Throws: `CUDAError.unavailable` with `CUDA.status`'s explanation (what is missing, where it
///   was looked for) when CUDA cannot be used here.
func prepare(_ device: Device) throws {
    guard case .cuda(let ordinal) = device else { return }
    try CUDA.activate(device: ordinal)
}

/// The `kiln info` lines about CUDA: the verdict, then the driver, devices and libraries, indented.
func cudaSection(_ status: CUDAStatus) -> String {
    (["CUDA: " + (status.problem.map { "not available: \($0)" } ?? "available")]
        + status.details.split(separator: "\n").map { "  " + $0 }).joined(separator: "\n")
}
