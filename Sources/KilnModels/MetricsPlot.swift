import Foundation
import KilnNN

/// The curves of one training run, read from its metrics log (see ``MetricsLog``).
public struct MetricsRun: Sendable {
    /// The name shown in the legend.
    public var label: String
    /// `(step, loss)` of every logged training step, in order.
    public var steps: [(step: Int, loss: Double)]
    /// `(step, value)` of every evaluation's validation (test) loss.
    public var validationLoss: [(step: Int, value: Double)]
    /// `(step, value)` of every evaluation's accuracy, as a fraction.
    public var accuracy: [(step: Int, value: Double)]
    /// Lines of the log that were not JSON (a line cut by a crash).
    public var skippedLines: Int

    /// A run from its curves.
    public init(label: String, steps: [(step: Int, loss: Double)], validationLoss: [(step: Int, value: Double)] = [],
                accuracy: [(step: Int, value: Double)] = [], skippedLines: Int = 0) {
        self.label = label
        self.steps = steps
        self.validationLoss = validationLoss
        self.accuracy = accuracy
        self.skippedLines = skippedLines
    }

    /// Reads the log at `path`; the label defaults to the file's name without `.jsonl`. A resumed
    /// run's log holds each step once (resuming cuts the log back to the checkpoint), but a step
    /// that appears twice keeps its last value.
    public init(contentsOf path: String, label: String? = nil) throws(FileReadError) {
        let (records, skipped) = try MetricsLog.read(path)
        var steps: [Int: Double] = [:], validation: [Int: Double] = [:], accuracy: [Int: Double] = [:]
        for r in records {
            guard let step = r["step"]?.int else { continue }
            switch r["event"]?.string {
            case "step":
                if let loss = r["loss"]?.double { steps[step] = loss }
            case "eval":
                if let v = r["val_loss"]?.double { validation[step] = v }
                if let a = r["accuracy"]?.double { accuracy[step] = a }
            default:
                break
            }
        }
        var name = String(path.split(separator: "/").last ?? Substring(path))
        if name.hasSuffix(".jsonl") { name.removeLast(6) }
        self.init(label: label ?? name,
                  steps: steps.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
                  validationLoss: validation.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
                  accuracy: accuracy.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
                  skippedLines: skipped)
    }
}

/// An SVG figure of training curves for one or more runs: on the left the training loss
/// (every logged step, faint, and an exponential moving average, solid) with the validation loss
/// (dashed, dots at each evaluation); on the right the validation accuracy in percent (or, when no
/// run logged an accuracy — language models — the validation loss). Runs are
/// told apart by colour and named in a legend; axes carry ticks, labels and units. The loss axis
/// is logarithmic when the losses span more than a factor of 20.
public func metricsPlotSVG(_ runs: [MetricsRun], title: String = "Training curves") -> String {
    let width = 1040.0
    let panelTop = 58.0, panelHeight = 300.0
    let left = Panel(x: 70, y: panelTop, width: 400, height: panelHeight)
    let right = Panel(x: 600, y: panelTop, width: 400, height: panelHeight)
    var svg = SVG(width: width, height: 470)
    svg.text(width / 2, 26, title, size: 17, anchor: "middle", weight: "bold")

    let maxStep = runs.flatMap { $0.steps.map(\.step) + $0.validationLoss.map(\.step) + $0.accuracy.map(\.step) }.max() ?? 1
    let xAxis = Axis(range: 0...Double(max(maxStep, 1)), logarithmic: false, roundToTicks: false)

    // Loss panel.
    let smoothed = runs.map { smooth($0.steps.map(\.loss)) }
    // The range follows the moving averages and validation losses; single steps beyond it are clipped.
    var losses = runs.flatMap { $0.validationLoss.map(\.value) }.filter { $0.isFinite && $0 > 0 }
    losses += smoothed.flatMap { $0 }.filter { $0.isFinite && $0 > 0 }
    let lossLow = losses.min() ?? 0.1, lossHigh = losses.max() ?? 1
    let logLoss = lossHigh / max(lossLow, 1e-12) > 20
    let yLoss = Axis(range: logLoss ? lossLow...lossHigh : 0...max(lossHigh, 1e-6), logarithmic: logLoss)
    svg.panel(left, x: xAxis, y: yLoss, title: "Loss",
              xLabel: "training step", yLabel: "cross-entropy (nats)" + (logLoss ? ", log scale" : ""))
    for (i, run) in runs.enumerated() {
        let color = palette[i % palette.count]
        let raw = thin(Array(zip(run.steps.map { Double($0.step) }, run.steps.map(\.loss))), to: 1500)
        svg.polyline(left, xAxis, yLoss, raw, color: color, width: 0.8, opacity: 0.25)
        let ema = thin(Array(zip(run.steps.map { Double($0.step) }, smoothed[i])), to: 1500)
        svg.polyline(left, xAxis, yLoss, ema, color: color, width: 2)
        let validation = run.validationLoss.map { (Double($0.step), $0.value) }
        svg.polyline(left, xAxis, yLoss, validation, color: color, width: 1.6, dash: "6 4")
        svg.dots(left, xAxis, yLoss, validation, color: color)
    }

    // Accuracy panel, or validation loss for runs without accuracy (language models).
    if runs.allSatisfy({ $0.accuracy.isEmpty }) && runs.contains(where: { !$0.validationLoss.isEmpty }) {
        let values = runs.flatMap { $0.validationLoss.map(\.value) }.filter(\.isFinite)
        let low = values.min() ?? 0, high = values.max() ?? 1, span = max(high - low, 1e-3)
        let y = Axis(range: max(0, low - 0.1 * span)...(high + 0.1 * span), logarithmic: false)
        svg.panel(right, x: xAxis, y: y, title: "Validation loss", xLabel: "training step", yLabel: "cross-entropy (nats)")
        for (i, run) in runs.enumerated() {
            let points = run.validationLoss.map { (Double($0.step), $0.value) }
            svg.polyline(right, xAxis, y, points, color: palette[i % palette.count], width: 2)
            svg.dots(right, xAxis, y, points, color: palette[i % palette.count])
        }
        legend(&svg, runs, top: panelTop + panelHeight + 66, width: width) { run in
            run.validationLoss.last.map { String(format: " (final validation loss %.4f)", $0.value) } ?? ""
        }
        return svg.finish()
    }
    let accuracies = runs.flatMap { $0.accuracy.map { $0.value * 100 } }.filter(\.isFinite)
    let accuracyLow = accuracies.min() ?? 0, accuracyHigh = accuracies.max() ?? 100
    let span = max(accuracyHigh - accuracyLow, 1)
    let yAccuracy = Axis(range: max(0, accuracyLow - 0.1 * span)...min(100, accuracyHigh + 0.1 * span), logarithmic: false)
    svg.panel(right, x: xAxis, y: yAccuracy, title: "Validation accuracy", xLabel: "training step",
              yLabel: "accuracy (%)")
    for (i, run) in runs.enumerated() {
        let points = run.accuracy.map { (Double($0.step), $0.value * 100) }
        svg.polyline(right, xAxis, yAccuracy, points, color: palette[i % palette.count], width: 2)
        svg.dots(right, xAxis, yAccuracy, points, color: palette[i % palette.count])
    }
    if accuracies.isEmpty {
        svg.text(right.x + right.width / 2, right.y + right.height / 2, "no evaluations logged", size: 13,
                 anchor: "middle", color: "#888")
    }

    legend(&svg, runs, top: panelTop + panelHeight + 66, width: width) { run in
        run.accuracy.last.map { String(format: " (final accuracy %.2f%%)", $0.value * 100) } ?? ""
    }
    return svg.finish()
}

/// One legend entry per run (wrapping), then the key to the line styles; sets the figure's height.
private func legend(_ svg: inout SVG, _ runs: [MetricsRun], top: Double, width: Double,
                    suffix: (MetricsRun) -> String) {
    var x = 70.0, legendY = top
    for (i, run) in runs.enumerated() {
        let color = palette[i % palette.count]
        let label = run.label + suffix(run)
        let entryWidth = 44 + Double(label.count) * 6.8
        if x + entryWidth > width - 20 && x > 70 {
            x = 70
            legendY += 20
        }
        svg.line(x, legendY, x + 26, legendY, color: color, width: 3)
        svg.text(x + 32, legendY + 4, label, size: 12)
        x += entryWidth
    }
    let keyY = legendY + 26
    svg.line(70, keyY, 96, keyY, color: "#444", width: 2)
    svg.text(102, keyY + 4, "training loss (moving average; faint: every step)", size: 11, color: "#444")
    svg.line(420, keyY, 446, keyY, color: "#444", width: 1.6, dash: "6 4")
    svg.text(452, keyY + 4, "validation loss (dots: evaluations)", size: 11, color: "#444")
    svg.height = keyY + 16
}

// MARK: - Drawing

private let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]

/// A plotting area in SVG coordinates.
private struct Panel {
    var x: Double, y: Double, width: Double, height: Double
}

/// A linear or logarithmic axis over a data range, with readable ticks.
private struct Axis {
    let low: Double, high: Double
    let logarithmic: Bool

    /// An axis over `range`, widened to the nearest ticks when `roundToTicks`.
    init(range: ClosedRange<Double>, logarithmic: Bool, roundToTicks: Bool = true) {
        self.logarithmic = logarithmic
        var lo = range.lowerBound, hi = range.upperBound
        if logarithmic {
            // Widen to the nearest ticks, so that both ends are labelled.
            let multipliers = Axis.logMultipliers(decades: log10(hi) - log10(lo))
            let below = floorLog10(lo), above = floorLog10(hi)
            lo = multipliers.map { $0 * pow10(below) }.filter { $0 <= lo * 1.0001 }.max() ?? pow10(below)
            hi = (multipliers + [10]).map { $0 * pow10(above) }.filter { $0 >= hi * 0.9999 }.min() ?? pow10(above + 1)
        } else {
            if hi <= lo { hi = lo + 1 }
            if roundToTicks {
                let step = niceStep((hi - lo) / 5)
                lo = (lo / step).rounded(.down) * step
                hi = (hi / step).rounded(.up) * step
            }
        }
        low = lo
        high = hi
    }

    /// The position of `v` in 0...1 along the axis.
    func fraction(_ v: Double) -> Double {
        logarithmic ? (log10(v) - log10(low)) / (log10(high) - log10(low)) : (v - low) / (high - low)
    }

    /// Tick values within the range.
    var ticks: [Double] {
        if logarithmic {
            var result: [Double] = []
            let multipliers = Axis.logMultipliers(decades: log10(high) - log10(low))
            var p = floorLog10(low)
            while pow10(p) <= high * 1.0001 {
                for m in multipliers {
                    let v = m * pow10(p)
                    if v >= low * 0.9999 && v <= high * 1.0001 { result.append(v) }
                }
                p += 1
            }
            return result
        }
        let step = niceStep((high - low) / 5)
        var v = low, result: [Double] = []
        while v <= high + step * 1e-6 {
            result.append(abs(v) < step * 1e-9 ? 0 : v)
            v += step
        }
        return result
    }

    /// The mantissas of the ticks of a logarithmic axis spanning `decades` powers of ten.
    static func logMultipliers(decades: Double) -> [Double] {
        decades > 3 ? [1] : decades > 1.5 ? [1, 3] : [1, 2, 5]
    }

    func label(_ v: Double) -> String {
        if v == 0 { return "0" }
        let magnitude = abs(v)
        if magnitude >= 1000 && magnitude.truncatingRemainder(dividingBy: 100) == 0 {
            return trimmed(String(format: "%.1f", v / 1000)) + "k"
        }
        if magnitude >= 1 && v == v.rounded() { return String(Int(v)) }
        if magnitude >= 0.001 { return trimmed(String(format: "%.4f", v)) }
        return String(format: "%.0e", v)
    }
}

private func trimmed(_ s: String) -> String {
    var s = s
    while s.hasSuffix("0") { s.removeLast() }
    if s.hasSuffix(".") { s.removeLast() }
    return s
}

private func floorLog10(_ v: Double) -> Int { Int(log10(v).rounded(.down)) }
private func pow10(_ p: Int) -> Double { pow(10, Double(p)) }

/// 1, 2 or 5 times a power of ten, at least `raw`.
private func niceStep(_ raw: Double) -> Double {
    guard raw > 0 && raw.isFinite else { return 1 }
    let base = pow10(floorLog10(raw))
    for m in [1.0, 2, 2.5, 5, 10] where m * base >= raw * 0.999 { return m * base }
    return 10 * base
}

/// An exponential moving average with a time constant of about 2% of the points (at least 1),
/// debiased at the start as TensorBoard's smoothing is.
private func smooth(_ values: [Double]) -> [Double] {
    let timeConstant = max(1, Double(values.count) / 50)
    let weight = 1 - 1 / timeConstant
    var average = 0.0, norm = 0.0
    return values.map { v in
        guard v.isFinite else { return .nan }
        average = weight * average + (1 - weight) * v
        norm = weight * norm + (1 - weight)
        return average / norm
    }
}

/// At most `limit` points, by taking every k-th (and the last).
private func thin(_ points: [(Double, Double)], to limit: Int) -> [(Double, Double)] {
    guard points.count > limit else { return points }
    let stride = (points.count + limit - 1) / limit
    var result = Swift.stride(from: 0, to: points.count, by: stride).map { points[$0] }
    if let last = points.last, result.last?.0 != last.0 { result.append(last) }
    return result
}

/// An SVG document being written.
private struct SVG {
    var body = ""
    let width: Double
    var height: Double

    init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }

    mutating func text(_ x: Double, _ y: Double, _ s: String, size: Double, anchor: String = "start",
                       weight: String = "normal", color: String = "#222", rotate: Bool = false) {
        let transform = rotate ? " transform=\"rotate(-90 \(f(x)) \(f(y)))\"" : ""
        body += "<text x=\"\(f(x))\" y=\"\(f(y))\" font-size=\"\(f(size))\" text-anchor=\"\(anchor)\" font-weight=\"\(weight)\" fill=\"\(color)\"\(transform)>\(escape(s))</text>\n"
    }

    mutating func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, color: String, width: Double,
                       dash: String? = nil) {
        body += "<line x1=\"\(f(x1))\" y1=\"\(f(y1))\" x2=\"\(f(x2))\" y2=\"\(f(y2))\" stroke=\"\(color)\" stroke-width=\"\(f(width))\""
            + (dash.map { " stroke-dasharray=\"\($0)\"" } ?? "") + "/>\n"
    }

    mutating func panel(_ p: Panel, x: Axis, y: Axis, title: String, xLabel: String, yLabel: String) {
        body += "<rect x=\"\(f(p.x))\" y=\"\(f(p.y))\" width=\"\(f(p.width))\" height=\"\(f(p.height))\" fill=\"#fbfbfb\" stroke=\"#999\"/>\n"
        for t in y.ticks {
            let py = p.y + p.height * (1 - y.fraction(t))
            body += "<line x1=\"\(f(p.x))\" y1=\"\(f(py))\" x2=\"\(f(p.x + p.width))\" y2=\"\(f(py))\" stroke=\"#e4e4e4\"/>\n"
            body += "<line x1=\"\(f(p.x - 5))\" y1=\"\(f(py))\" x2=\"\(f(p.x))\" y2=\"\(f(py))\" stroke=\"#555\"/>\n"
            text(p.x - 8, py + 4, y.label(t), size: 11, anchor: "end", color: "#333")
        }
        for t in x.ticks {
            let px = p.x + p.width * x.fraction(t)
            body += "<line x1=\"\(f(px))\" y1=\"\(f(p.y))\" x2=\"\(f(px))\" y2=\"\(f(p.y + p.height))\" stroke=\"#e4e4e4\"/>\n"
            body += "<line x1=\"\(f(px))\" y1=\"\(f(p.y + p.height))\" x2=\"\(f(px))\" y2=\"\(f(p.y + p.height + 5))\" stroke=\"#555\"/>\n"
            text(px, p.y + p.height + 18, x.label(t), size: 11, anchor: "middle", color: "#333")
        }
        text(p.x + p.width / 2, p.y - 10, title, size: 14, anchor: "middle", weight: "bold")
        text(p.x + p.width / 2, p.y + p.height + 38, xLabel, size: 12, anchor: "middle")
        text(p.x - 50, p.y + p.height / 2, yLabel, size: 12, anchor: "middle", rotate: true)
        body += "<clipPath id=\"clip\(Int(p.x))\"><rect x=\"\(f(p.x))\" y=\"\(f(p.y))\" width=\"\(f(p.width))\" height=\"\(f(p.height))\"/></clipPath>\n"
    }

    mutating func polyline(_ p: Panel, _ x: Axis, _ y: Axis, _ points: [(Double, Double)], color: String,
                           width: Double, opacity: Double = 1, dash: String? = nil) {
        var coordinates: [String] = []
        for (vx, vy) in points where vy.isFinite && (!y.logarithmic || vy > 0) {
            coordinates.append("\(f(p.x + p.width * x.fraction(vx))),\(f(p.y + p.height * (1 - y.fraction(vy))))")
        }
        guard coordinates.count >= 2 else { return }
        body += "<polyline clip-path=\"url(#clip\(Int(p.x)))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(f(width))\" stroke-opacity=\"\(f(opacity))\" stroke-linejoin=\"round\""
            + (dash.map { " stroke-dasharray=\"\($0)\"" } ?? "") + " points=\"\(coordinates.joined(separator: " "))\"/>\n"
    }

    mutating func dots(_ p: Panel, _ x: Axis, _ y: Axis, _ points: [(Double, Double)], color: String) {
        for (vx, vy) in points where vy.isFinite && (!y.logarithmic || vy > 0) {
            body += "<circle cx=\"\(f(p.x + p.width * x.fraction(vx)))\" cy=\"\(f(p.y + p.height * (1 - y.fraction(vy))))\" r=\"3\" fill=\"\(color)\"/>\n"
        }
    }

    func finish() -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(width))\" height=\"\(f(height))\" viewBox=\"0 0 \(f(width)) \(f(height))\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
            + "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n" + body + "</svg>\n"
    }
}

private func f(_ v: Double) -> String {
    let r = (v * 10).rounded() / 10
    return r == r.rounded() ? String(Int(r)) : String(r)
}

private func escape(_ s: String) -> String {
    var out = ""
    for c in s {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        default: out.append(c)
        }
    }
    return out
}
