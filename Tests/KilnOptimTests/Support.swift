import Foundation
import Kiln
import KilnOptim
import Testing

/// Reads `Fixtures/<name>` (written by Scripts/make_optim_fixtures.py) from the test bundle.
func loadFixture<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
    let folder = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil),
                              "the Fixtures folder is missing from the test bundle")
    let data = try Data(contentsOf: folder.appendingPathComponent(name))
    return try JSONDecoder().decode(T.self, from: data)
}

/// Fresh parameters holding `values` (row-major) with `shapes`.
func makeParameters(_ values: [[Double]], shapes: [[Int]]) -> [Parameter] {
    zip(values, shapes).map { Parameter(Tensor($0.map(Float.init), shape: $1)) }
}

/// Records an issue unless every element of `actual` is within `relative · |expected| +
/// absolute` of `expected`; the message names the worst element.
func expectClose(
    _ actual: [Float], _ expected: [Double], relative: Double = 1e-6, absolute: Double = 1e-7,
    _ context: @autoclosure () -> String, sourceLocation: SourceLocation = #_sourceLocation
) {
    guard actual.count == expected.count else {
        Issue.record("\(context()): \(actual.count) values, expected \(expected.count)",
                     sourceLocation: sourceLocation)
        return
    }
    var worst: (index: Int, excess: Double)?
    for (index, (a, e)) in zip(actual, expected).enumerated() {
        let error = abs(Double(a) - e), allowed = relative * abs(e) + absolute
        // `!(error <= allowed)` also catches a NaN.
        if !(error <= allowed), worst == nil || error / allowed > worst!.excess {
            worst = (index, error / allowed)
        }
    }
    if let worst {
        Issue.record("""
            \(context()): element \(worst.index) is \(actual[worst.index]), expected \
            \(expected[worst.index]) (error \(worst.excess)× the tolerance)
            """, sourceLocation: sourceLocation)
    }
}

/// A deterministic, irregular sequence of `count` values in about [-scale, scale].
func wave(_ count: Int, seed: Double, scale: Double = 1) -> [Float] {
    (0..<count).map { index in
        let x = Double(index)
        let value: Double = scale * sin(x * 0.7345 + seed) * cos(x * 0.123 - seed)
        return Float(value)
    }
}
