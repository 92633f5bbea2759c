import KilnData
import KilnNN

/// A trained character-level model with what is needed to use it again: its kind and vocabulary,
/// stored in a safetensors file's `__metadata__` (`kiln.model`, `kiln.vocabulary` as the symbols'
/// Unicode scalar values separated by commas).
public struct LanguageModelFile {
    /// Which model.
    public let kind: LanguageModelKind
    /// The vocabulary it was trained with.
    public let vocabulary: CharVocabulary
    /// The model with the file's weights.
    public let model: any CharLanguageModel

    /// Writes `model`'s weights and metadata to `path` (atomically).
    public static func save(_ model: any CharLanguageModel, kind: LanguageModelKind, vocabulary: CharVocabulary,
                            to path: String) throws(SafeTensorsError) {
        let symbols = vocabulary.symbols.map { String($0.value) }.joined(separator: ",")
        try model.saveSafeTensors(to: path, metadata: ["kiln.model": kind.rawValue, "kiln.vocabulary": symbols])
    }

    /// Reads a file written by `save`: every error names the file and what was wrong.
    public init(contentsOf path: String) throws(SafeTensorsError) {
        let file = try SafeTensors(contentsOf: path)
        func invalid(_ what: String) -> SafeTensorsError {
            SafeTensorsError(file: path, reason: .invalidHeader("metadata: " + what))
        }
        guard let name = file.metadata["kiln.model"], let kind = LanguageModelKind(rawValue: name) else {
            throw invalid("expected kiln.model to be one of \(LanguageModelKind.allCases.map(\.rawValue)), found \(file.metadata["kiln.model"] ?? "nothing")")
        }
        var scalars: [Unicode.Scalar] = []
        for part in (file.metadata["kiln.vocabulary"] ?? "").split(separator: ",") {
            guard let value = UInt32(part), let scalar = Unicode.Scalar(value) else {
                throw invalid("kiln.vocabulary holds '\(part)', expected Unicode scalar values separated by commas")
            }
            scalars.append(scalar)
        }
        guard scalars.count >= 2 else { throw invalid("kiln.vocabulary has \(scalars.count) symbols, expected at least 2") }
        let vocabulary = CharVocabulary(symbols: scalars)
        let model = kind.makeModel(vocabularySize: vocabulary.count, generator: RandomGenerator(seed: 0))
        try model.loadSafeTensors(file)
        self.kind = kind
        self.vocabulary = vocabulary
        self.model = model
    }
}
