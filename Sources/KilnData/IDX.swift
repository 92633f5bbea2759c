import Foundation

/// An n-dimensional array of unsigned bytes read from an IDX file (the format of MNIST and
/// Fashion-MNIST), with its shape.
public struct IDXArray: Sendable, Equatable {
    /// The size of each dimension, outermost first, e.g. `[60000, 28, 28]`.
    public let shape: [Int]
    /// The elements in row-major order; `bytes.count` is the product of `shape`.
    public let bytes: [UInt8]

    /// An array of the given shape; `bytes.count` must be the product of `shape`.
    public init(shape: [Int], bytes: [UInt8]) {
        precondition(
            bytes.count == shape.reduce(1, *),
            "IDXArray: \(bytes.count) bytes do not fill shape \(shape)")
        self.shape = shape
        self.bytes = bytes
    }
}

/// Reader of the IDX format: a 4-byte big-endian magic number `0x0000TTDD` (`TT` the element type,
/// `0x08` for unsigned bytes; `DD` the number of dimensions), one big-endian `UInt32` per dimension,
/// then the elements, row-major. Only unsigned-byte files are read; their length must be exactly
/// what the header describes (a truncated file and trailing bytes are both errors).
public enum IDX {
    /// The magic number of a 3-D unsigned-byte array, e.g. images `[count, rows, columns]`.
    public static let imagesMagic: UInt32 = 0x0000_0803
    /// The magic number of a 1-D unsigned-byte array, e.g. labels `[count]`.
    public static let labelsMagic: UInt32 = 0x0000_0801

    /// Reads the IDX file at `url`, which must carry the magic number `magic` (an unsigned-byte
    /// type such as `imagesMagic` or `labelsMagic`).
    ///
    /// - Parameter fetchCommand: the command a missing-file error suggests for getting the file.
    /// - Throws: `DatasetError` naming the file: `.missingFile`, `.unreadableFile`, `.badMagic`,
    ///   `.truncatedFile` or `.trailingBytes`.
    public static func read(
        _ url: URL, magic: UInt32, fetchCommand: String = "Scripts/fetch-data.sh"
    ) throws(DatasetError) -> IDXArray {
        let bytes = try readFileBytes(url, fetchCommand: fetchCommand)
        return try decode(bytes, magic: magic, path: url.path)
    }

    /// Decodes the contents of an IDX file already in memory; `path` names it in errors.
    ///
    /// - Throws: `DatasetError.badMagic`, `.truncatedFile` or `.trailingBytes`.
    public static func decode(_ file: [UInt8], magic: UInt32, path: String) throws(DatasetError) -> IDXArray {
        precondition(magic >> 8 == 0x08, "IDX.decode reads unsigned-byte files only (magic 0x000008DD)")
        guard file.count >= 4 else {
            throw .truncatedFile(path: path, expectedBytes: 4, actualBytes: file.count)
        }
        let found = bigEndianUInt32(file, at: 0)
        guard found == magic else {
            throw .badMagic(path: path, expected: magic, found: found)
        }
        let rank = Int(magic & 0xFF)
        let headerBytes = 4 + 4 * rank
        guard file.count >= headerBytes else {
            throw .truncatedFile(path: path, expectedBytes: headerBytes, actualBytes: file.count)
        }
        var shape: [Int] = []
        shape.reserveCapacity(rank)
        // The payload length, computed with overflow checks: the header comes from outside.
        var expectedBytes = headerBytes
        var payload = 1
        var overflow = false
        for d in 0..<rank {
            let size = Int(bigEndianUInt32(file, at: 4 + 4 * d))
            shape.append(size)
            let product = payload.multipliedReportingOverflow(by: size)
            payload = product.partialValue
            overflow = overflow || product.overflow
        }
        let total = expectedBytes.addingReportingOverflow(payload)
        expectedBytes = overflow || total.overflow ? Int.max : total.partialValue
        if file.count < expectedBytes {
            throw .truncatedFile(path: path, expectedBytes: expectedBytes, actualBytes: file.count)
        }
        if file.count > expectedBytes {
            throw .trailingBytes(path: path, expectedBytes: expectedBytes, actualBytes: file.count)
        }
        return IDXArray(shape: shape, bytes: Array(file[headerBytes...]))
    }

    private static func bigEndianUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16
            | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }
}
