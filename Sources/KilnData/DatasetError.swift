/// Why a dataset file could not be loaded.
///
/// Every case names the file it is about, and its `description` says what was expected and what was
/// found, so that a message printed as-is tells the user what to fix. Datasets come from outside the
/// program: a bad file is reported with one of these errors, never with a crash.
public enum DatasetError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file does not exist. `fetchCommand` is the command that fetches it, e.g.
    /// `Scripts/fetch-data.sh --only mnist`.
    case missingFile(path: String, fetchCommand: String)

    /// The file does not exist, and no script here can fetch it (no package ships CIFAR-10);
    /// `instructions` says where to get the file and where to put it.
    case missingUserSuppliedFile(path: String, instructions: String)

    /// The file exists but could not be read (a folder, no permission, an I/O error).
    case unreadableFile(path: String, reason: String)

    /// The file is shorter than its header says: `expectedBytes` in all, only `actualBytes` there.
    case truncatedFile(path: String, expectedBytes: Int, actualBytes: Int)

    /// The file is longer than its header says: `expectedBytes` in all, `actualBytes` there.
    case trailingBytes(path: String, expectedBytes: Int, actualBytes: Int)

    /// A file of fixed-size records (the CIFAR-10 binary format) has the wrong length: records of
    /// `recordBytes` bytes, `expectedRecords` of them (nil when any whole number of records is
    /// accepted), `actualBytes` in the file.
    case wrongRecordFileSize(path: String, recordBytes: Int, expectedRecords: Int?, actualBytes: Int)

    /// The IDX magic number is not the one for this kind of file. Its last byte is the number of
    /// dimensions, so a file with the wrong dimension count is reported here too.
    case badMagic(path: String, expected: UInt32, found: UInt32)

    /// A dimension of the file does not have the value the reader needs, e.g. a label file whose
    /// count differs from its image file's, or an image size that is not the one expected.
    case dimensionMismatch(path: String, dimension: String, expected: Int, found: Int)

    /// A labels file holds a different number of labels than its images file holds images.
    case countMismatch(path: String, labelCount: Int, imagesPath: String, imageCount: Int)

    /// A label lies outside `0..<classCount`; `index` is the sample's position in the file.
    case labelOutOfRange(path: String, index: Int, label: Int, classCount: Int)

    /// A CSV line has the wrong number of comma-separated columns (lines count from 1).
    case wrongColumnCount(path: String, line: Int, expected: Int, found: Int)

    /// A CSV field is not a number of the kind expected (lines and columns count from 1).
    case badValue(path: String, line: Int, column: Int, text: String, expected: String)

    /// The file holds no samples at all.
    case empty(path: String)

    /// The path of the file the error is about.
    public var path: String {
        switch self {
        case .missingFile(let path, _), .missingUserSuppliedFile(let path, _), .unreadableFile(let path, _),
            .truncatedFile(let path, _, _), .trailingBytes(let path, _, _),
            .wrongRecordFileSize(let path, _, _, _),
            .badMagic(let path, _, _), .dimensionMismatch(let path, _, _, _),
            .countMismatch(let path, _, _, _), .labelOutOfRange(let path, _, _, _),
            .wrongColumnCount(let path, _, _, _),
            .badValue(let path, _, _, _, _), .empty(let path):
            return path
        }
    }

    /// A one-line message naming the file, what was expected and what was found.
    public var description: String {
        switch self {
        case .missingFile(let path, let fetchCommand):
            return "\(path): file not found; expected the dataset file at this path "
                + "(fetch it with `\(fetchCommand)`, or point the loader at a folder that has it)"
        case .missingUserSuppliedFile(let path, let instructions):
            return "\(path): file not found; \(instructions)"
        case .unreadableFile(let path, let reason):
            return "\(path): cannot read the file: \(reason)"
        case .truncatedFile(let path, let expected, let actual):
            return "\(path): truncated: the header describes \(expected) bytes, the file has only \(actual)"
        case .trailingBytes(let path, let expected, let actual):
            return "\(path): \(actual - expected) unexpected trailing bytes: the header describes "
                + "\(expected) bytes, the file has \(actual)"
        case .wrongRecordFileSize(let path, let recordBytes, let expectedRecords, let actual):
            let whole = actual / recordBytes, over = actual % recordBytes
            let found = "\(whole) whole record\(whole == 1 ? "" : "s")" + (over == 0 ? "" : " and \(over) bytes over")
            guard let records = expectedRecords else {
                return "\(path): \(actual) bytes, expected a multiple of \(recordBytes) (whole records of "
                    + "\(recordBytes) bytes), found \(found): the file is truncated or not in this format"
            }
            let expected = records * recordBytes
            return "\(path): \(actual) bytes, expected \(expected) (\(records) records of \(recordBytes) bytes), "
                + "found \(found): the file is \(actual < expected ? "truncated" : "too long")"
        case .badMagic(let path, let expected, let found):
            return "\(path): bad IDX magic number: expected \(Self.describeMagic(expected)), "
                + "found \(Self.describeMagic(found))"
        case .dimensionMismatch(let path, let dimension, let expected, let found):
            return "\(path): \(dimension) is \(found), expected \(expected)"
        case .countMismatch(let path, let labelCount, let imagesPath, let imageCount):
            return "\(path): holds \(labelCount) labels, expected \(imageCount), one per image in \(imagesPath)"
        case .labelOutOfRange(let path, let index, let label, let classCount):
            return "\(path): label \(label) of sample \(index) is out of range: expected 0..<\(classCount)"
        case .wrongColumnCount(let path, let line, let expected, let found):
            return "\(path):\(line): expected \(expected) comma-separated columns, found \(found)"
        case .badValue(let path, let line, let column, let text, let expected):
            return "\(path):\(line): column \(column) is \"\(text)\", expected \(expected)"
        case .empty(let path):
            return "\(path): the file holds no samples"
        }
    }

    /// `0x00000803 (unsigned bytes, 3 dimensions)`: the magic in hex with what it means.
    static func describeMagic(_ magic: UInt32) -> String {
        let hex = String(magic, radix: 16)
        let padded = "0x" + String(repeating: "0", count: max(0, 8 - hex.count)) + hex
        guard magic >> 16 == 0 else { return "\(padded) (not an IDX file)" }
        let type: String
        switch (magic >> 8) & 0xFF {
        case 0x08: type = "unsigned bytes"
        case 0x09: type = "signed bytes"
        case 0x0B: type = "16-bit integers"
        case 0x0C: type = "32-bit integers"
        case 0x0D: type = "32-bit floats"
        case 0x0E: type = "64-bit floats"
        default: type = "unknown element type"
        }
        let dimensions = magic & 0xFF
        return "\(padded) (\(type), \(dimensions) dimension\(dimensions == 1 ? "" : "s"))"
    }
}
