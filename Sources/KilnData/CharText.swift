import Foundation
import Kiln

/// The symbols of a text, each with an integer id: ids follow Unicode scalar order, so the same
/// text always gives the same vocabulary.
public struct CharVocabulary: Sendable, Equatable {
    /// The symbols, by id.
    public let symbols: [Unicode.Scalar]
    private let ids: [Unicode.Scalar: Int32]

    /// The vocabulary of `symbols` (duplicates removed, sorted).
    public init(symbols: some Sequence<Unicode.Scalar>) {
        self.symbols = Array(Set(symbols)).sorted { $0.value < $1.value }
        var ids: [Unicode.Scalar: Int32] = [:]
        for (i, s) in self.symbols.enumerated() { ids[s] = Int32(i) }
        self.ids = ids
    }

    /// The vocabulary of every distinct symbol in `text`.
    public init(text: String) { self.init(symbols: text.unicodeScalars) }

    /// Number of symbols.
    public var count: Int { symbols.count }

    /// The ids of `text`'s symbols, or nil if one is not in the vocabulary.
    public func encode(_ text: String) -> [Int32]? {
        var out: [Int32] = []
        out.reserveCapacity(text.unicodeScalars.count)
        for s in text.unicodeScalars {
            guard let id = ids[s] else { return nil }
            out.append(id)
        }
        return out
    }

    /// The first symbol of `text` missing from the vocabulary, if any.
    public func firstUnknown(in text: String) -> Unicode.Scalar? { text.unicodeScalars.first { ids[$0] == nil } }

    /// The text of `tokens` (ids out of range are skipped).
    public func decode(_ tokens: [Int32]) -> String {
        var s = String.UnicodeScalarView()
        for t in tokens where t >= 0 && Int(t) < symbols.count { s.append(symbols[Int(t)]) }
        return String(s)
    }
}

/// A character-level text corpus for language models: its vocabulary, and the text encoded and
/// split into a training part (the first 90% by default) and a validation part (the rest).
public struct CharTextDataset: Sendable {
    /// The symbols of the whole text.
    public let vocabulary: CharVocabulary
    /// The training part, as ids.
    public let train: [Int32]
    /// The validation part, as ids.
    public let validation: [Int32]

    /// Which part of the corpus.
    public enum Split: Sendable { case train, validation }

    /// Encodes `text` and splits it: the first `1 − validationFraction` for training.
    public init(text: String, validationFraction: Double = 0.1) {
        precondition(validationFraction >= 0 && validationFraction < 1, "CharTextDataset: validationFraction must be in [0, 1)")
        vocabulary = CharVocabulary(text: text)
        let ids = vocabulary.encode(text)!
        let cut = Int((Double(ids.count) * (1 - validationFraction)).rounded(.down))
        train = Array(ids[..<cut])
        validation = Array(ids[cut...])
    }

    /// Reads a UTF-8 text file (at most `maxCharacters` symbols of it, when given).
    public static func load(file url: URL, maxCharacters: Int? = nil, validationFraction: Double = 0.1,
                            fetchCommand: String = "Scripts/fetch-data.sh --only shakespeare") throws(DatasetError) -> CharTextDataset {
        let path = url.path
        guard FileManager.default.fileExists(atPath: path) else {
            throw .missingFile(path: path, fetchCommand: fetchCommand)
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw .unreadableFile(path: path, reason: "\(error)") }
        guard let text = String(data: data, encoding: .utf8) else {
            throw .unreadableFile(path: path, reason: "not valid UTF-8 text")
        }
        var scalars = text.unicodeScalars[...]
        if let maxCharacters { scalars = scalars.prefix(maxCharacters) }
        let used = String(String.UnicodeScalarView(scalars))
        guard used.unicodeScalars.count >= 2 else { throw .empty(path: path) }
        return CharTextDataset(text: used, validationFraction: validationFraction)
    }

    /// The ids of `split`.
    public func tokens(_ split: Split) -> [Int32] { split == .train ? train : validation }

    /// `batchSize` random windows of `contextLength` ids from `split` (start positions uniform, as
    /// nanoGPT draws them), with targets shifted by one: `inputs[b, t + 1] == targets[b, t]`.
    /// Both are row-major `[batchSize, contextLength]`.
    public func batch(_ split: Split, batchSize: Int, contextLength: Int,
                      generator: RandomGenerator) -> (inputs: [Int32], targets: [Int32]) {
        let data = tokens(split)
        precondition(data.count > contextLength, "CharTextDataset: \(split) part has \(data.count) symbols, need more than the context length \(contextLength)")
        var inputs = [Int32](repeating: 0, count: batchSize * contextLength)
        var targets = inputs
        data.withUnsafeBufferPointer { d in
            for b in 0..<batchSize {
                let start = generator.nextInt(below: data.count - contextLength)
                for t in 0..<contextLength {
                    inputs[b * contextLength + t] = d[start + t]
                    targets[b * contextLength + t] = d[start + t + 1]
                }
            }
        }
        return (inputs, targets)
    }
}
