import ArgumentParser
import Foundation
import KilnModels

struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw training curves from metrics logs (kiln train --log) as an SVG.",
        discussion: "Loss (every step and a moving average, validation loss dashed) and validation accuracy against the training step; several logs are drawn in one figure with a legend.")

    @Argument(help: "Metrics logs (JSON Lines written by kiln train --log).")
    var logs: [String]

    @Option(name: .shortAndLong, help: "The SVG file to write.")
    var output: String = "curves.svg"

    @Option(help: "Legend labels, one per log in order (default: the file names).")
    var label: [String] = []

    @Option(help: "The figure's title.")
    var title: String = "Training curves"

    func validate() throws {
        guard !logs.isEmpty else { throw ValidationError("give at least one metrics log") }
        guard label.isEmpty || label.count == logs.count else {
            throw ValidationError("--label given \(label.count) times for \(logs.count) logs")
        }
    }

    func run() throws {
        var runs: [MetricsRun] = []
        for (i, path) in logs.enumerated() {
            let run = try MetricsRun(contentsOf: path, label: label.isEmpty ? nil : label[i])
            if run.steps.isEmpty && run.accuracy.isEmpty {
                throw ValidationError("\(path): no step or evaluation records (is it a kiln train --log file?)")
            }
            if run.skippedLines > 0 { print("\(path): \(run.skippedLines) line(s) that are not JSON skipped") }
            print("\(path): \(run.steps.count) steps, \(max(run.accuracy.count, run.validationLoss.count)) evaluations")
            runs.append(run)
        }
        try writeFileAtomically(Array(metricsPlotSVG(runs, title: title).utf8), to: output)
        print("wrote \(output)")
    }
}
