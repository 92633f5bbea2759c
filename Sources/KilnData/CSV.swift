import Foundation

extension LabeledDataset {
    /// Reads a classification table from a CSV file: one sample per line, `featureCount` numeric
    /// feature columns then an integer class label, separated by commas (no quoting).
    ///
    /// Lines may end in `\n` or `\r\n`; empty lines are skipped; spaces around a field are ignored.
    ///
    /// - Parameters:
    ///   - url: the file.
    ///   - featureCount: the number of feature columns; each line must have `featureCount + 1`.
    ///   - classCount: every label must be in `0..<classCount`.
    ///   - sampleShape: the shape of one sample (its product must be `featureCount`); nil means
    ///     `[featureCount]`.
    ///   - headerLines: lines to skip at the top (e.g. 1 for scikit-learn's `iris.csv`).
    ///   - featureScale: every feature is multiplied by this, e.g. `1 / 16` for the digits.
    ///   - fetchCommand: the command a missing-file error suggests.
    /// - Throws: `DatasetError` naming the file and line: `.missingFile`, `.wrongColumnCount`,
    ///   `.badValue` (a feature that is not a finite number, a label that is not an integer in
    ///   `0..<classCount`) or `.empty`.
    public static func csv(
        _ url: URL, featureCount: Int, classCount: Int, sampleShape: [Int]? = nil, headerLines: Int = 0,
        featureScale: Float = 1, fetchCommand: String = "Scripts/fetch-data.sh"
    ) throws(DatasetError) -> LabeledDataset {
        precondition(
            featureCount >= 0 && classCount > 0, "LabeledDataset.csv: need featureCount >= 0 and classCount > 0")
        let shape = sampleShape ?? [featureCount]
        precondition(
            shape.reduce(1, *) == featureCount,
            "LabeledDataset.csv: sample shape \(shape) does not hold \(featureCount) features")
        let bytes = try readFileBytes(url, fetchCommand: fetchCommand)
        var parser = CSVParser(path: url.path, featureCount: featureCount, classCount: classCount, scale: featureScale)
        try parser.parse(bytes, skippingLines: headerLines)
        guard !parser.labels.isEmpty else { throw .empty(path: url.path) }
        return LabeledDataset(
            features: parser.features, labels: parser.labels, sampleShape: shape, classCount: classCount)
    }
}

/// Splits a CSV file's bytes into lines and fields and converts them, checking each one.
struct CSVParser {
    let path: String
    let featureCount: Int
    let classCount: Int
    let scale: Float
    private(set) var features: [Float] = []
    private(set) var labels: [Int32] = []

    init(path: String, featureCount: Int, classCount: Int, scale: Float) {
        self.path = path
        self.featureCount = featureCount
        self.classCount = classCount
        self.scale = scale
    }

    private static let comma = UInt8(ascii: ","), newline = UInt8(ascii: "\n")
    private static let carriageReturn = UInt8(ascii: "\r"), space = UInt8(ascii: " "), tab = UInt8(ascii: "\t")

    mutating func parse(_ bytes: [UInt8], skippingLines headerLines: Int) throws(DatasetError) {
        var lineNumber = 0
        var start = 0
        while start < bytes.count {
            var end = start
            while end < bytes.count && bytes[end] != Self.newline { end += 1 }
            lineNumber += 1
            var contentEnd = end
            if contentEnd > start && bytes[contentEnd - 1] == Self.carriageReturn { contentEnd -= 1 }
            if lineNumber > headerLines && contentEnd > start {
                try parseLine(bytes[start..<contentEnd], line: lineNumber)
            }
            start = end + 1
        }
    }

    private mutating func parseLine(_ line: ArraySlice<UInt8>, line number: Int) throws(DatasetError) {
        // Field boundaries first, so that a wrong column count is reported before any value.
        var fields: [Range<Int>] = []
        fields.reserveCapacity(featureCount + 1)
        var fieldStart = line.startIndex
        for i in line.indices where line[i] == Self.comma {
            fields.append(fieldStart..<i)
            fieldStart = i + 1
        }
        fields.append(fieldStart..<line.endIndex)
        guard fields.count == featureCount + 1 else {
            throw .wrongColumnCount(path: path, line: number, expected: featureCount + 1, found: fields.count)
        }
        for column in 0..<featureCount {
            let text = Self.trimmed(line[fields[column]])
            guard let value = Float(text), value.isFinite else {
                throw .badValue(path: path, line: number, column: column + 1, text: text, expected: "a finite number")
            }
            features.append(value * scale)
        }
        let text = Self.trimmed(line[fields[featureCount]])
        guard let label = Int(text), label >= 0, label < classCount else {
            throw .badValue(
                path: path, line: number, column: featureCount + 1, text: text,
                expected: "an integer class label in 0..<\(classCount)")
        }
        labels.append(Int32(label))
    }

    /// The field as a string without surrounding spaces or tabs.
    private static func trimmed(_ field: ArraySlice<UInt8>) -> String {
        var lo = field.startIndex, hi = field.endIndex
        while lo < hi && (field[lo] == space || field[lo] == tab) { lo += 1 }
        while hi > lo && (field[hi - 1] == space || field[hi - 1] == tab) { hi -= 1 }
        return String(decoding: field[lo..<hi], as: UTF8.self)
    }
}
