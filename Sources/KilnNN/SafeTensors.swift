/// A file in the safetensors format (Hugging Face), read and checked in full.
///
/// Layout: an 8-byte little-endian header length `N`, `N` bytes of JSON, then the raw data:
///
/// ```
/// {"__metadata__": {"key": "value"},
///  "0.weight": {"dtype": "F32", "shape": [512, 784], "data_offsets": [0, 1605632]}, ...}
/// ```
///
/// `data_offsets` are byte ranges relative to the start of the data. Reading checks everything
/// the format promises: the header fits the file, is UTF-8 JSON (a header longer than
/// ``SafeTensors/maximumHeaderBytes`` is refused), each entry has a known dtype, a shape of
/// non-negative sizes and offsets whose length is `product(shape) × dtype size`, and the entries
/// tile the data exactly (sorted by offset they are contiguous, start at 0, do not overlap and end
/// at the end of the file). A file that breaks any of these throws a ``SafeTensorsError`` naming
/// the file, the tensor and what was expected and found; reading never traps.
///
/// Kiln writes `F32` (and `I64` for integer buffers such as batch norm's `num_batches_tracked`)
/// and reads `F32`, `F16`, `BF16`, `F64` and the integer types, converting to Float32: an integer
/// that Float32 cannot hold exactly, or a dtype it cannot convert, is an error.
public struct SafeTensors: Sendable {
    /// One tensor of the file, as its header describes it.
    public struct Entry: Sendable, Equatable {
        /// The tensor's name (a `state_dict` key).
        public let name: String
        /// The element type stored.
        public let dtype: SafeTensorsDType
        /// The shape.
        public let shape: [Int]
        /// The bytes of the data section holding the elements (little-endian, row-major).
        public let byteRange: Range<Int>
    }

    /// The largest header accepted (as the reference implementation: 100 MB).
    public static let maximumHeaderBytes = 100_000_000

    /// Where the bytes came from, for messages ("<memory>" when parsed from bytes).
    public let path: String
    /// The `__metadata__` entries (string to string), empty when the file has none.
    public let metadata: [String: String]
    /// The tensors, in the order of their data.
    public let entries: [Entry]
    private let bytes: [UInt8]
    private let dataStart: Int

    /// Reads and checks the file at `path`.
    public init(contentsOf path: String) throws(SafeTensorsError) {
        let bytes: [UInt8]
        do {
            bytes = try readWholeFile(path)
        } catch {
            throw SafeTensorsError(file: path, reason: .unreadable(error.reason))
        }
        try self.init(bytes: bytes, path: path)
    }

    /// Checks `bytes` as a safetensors file; `path` names it in errors.
    public init(bytes: [UInt8], path: String = "<memory>") throws(SafeTensorsError) {
        func fail(_ reason: SafeTensorsError.Reason, _ tensor: String? = nil) -> SafeTensorsError {
            SafeTensorsError(file: path, tensor: tensor, reason: reason)
        }
        guard bytes.count >= 8 else { throw fail(.truncated(expectedBytes: 8, foundBytes: bytes.count)) }
        var declared: UInt64 = 0
        for i in (0..<8).reversed() { declared = declared << 8 | UInt64(bytes[i]) }
        guard declared <= UInt64(Self.maximumHeaderBytes) else {
            throw fail(.headerTooLarge(declaredBytes: declared, limit: Self.maximumHeaderBytes))
        }
        let headerEnd = 8 + Int(declared)
        guard headerEnd <= bytes.count else { throw fail(.truncated(expectedBytes: headerEnd, foundBytes: bytes.count)) }
        let header: JSONValue
        do {
            header = try JSONValue(parsing: bytes[8..<headerEnd])
        } catch {
            throw fail(.invalidHeader("header is not valid JSON \(error)"))
        }
        guard let members = header.members else { throw fail(.invalidHeader("header is not a JSON object")) }
        let dataSize = bytes.count - headerEnd
        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        for member in members {
            if member.key == "__metadata__" {
                guard let pairs = member.value.members else {
                    throw fail(.invalidHeader("__metadata__ is not an object of strings"))
                }
                for pair in pairs {
                    guard let value = pair.value.string else {
                        throw fail(.invalidHeader("__metadata__ value of \"\(pair.key)\" is not a string"))
                    }
                    metadata[pair.key] = value
                }
                continue
            }
            entries.append(try Self.entry(member, dataSize: dataSize, headerEnd: headerEnd, fail: fail))
        }
        // The data must be tiled exactly: no gaps, no overlaps, nothing left over.
        entries.sort { ($0.byteRange.lowerBound, $0.byteRange.upperBound) < ($1.byteRange.lowerBound, $1.byteRange.upperBound) }
        var end = 0
        for entry in entries {
            guard entry.byteRange.lowerBound == end else {
                throw fail(.notContiguous(expectedOffset: end, foundOffset: entry.byteRange.lowerBound), entry.name)
            }
            end = entry.byteRange.upperBound
        }
        guard end == dataSize else { throw fail(.dataSizeMismatch(described: end, found: dataSize)) }
        self.path = path
        self.metadata = metadata
        self.entries = entries
        self.bytes = bytes
        self.dataStart = headerEnd
    }

    /// Checks one header entry.
    private static func entry(
        _ member: JSONValue.Member, dataSize: Int, headerEnd: Int,
        fail: (SafeTensorsError.Reason, String?) -> SafeTensorsError
    ) throws(SafeTensorsError) -> Entry {
        let name = member.key
        func bad(_ what: String) -> SafeTensorsError { fail(.invalidHeader(what), name) }
        guard let fields = member.value.members else { throw bad("entry is not an object") }
        for field in fields where !["dtype", "shape", "data_offsets"].contains(field.key) {
            throw bad("unknown field \"\(field.key)\"")
        }
        guard let dtypeName = member.value["dtype"]?.string else { throw bad("no \"dtype\" string") }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else { throw fail(.unsupportedDType(dtypeName), name) }
        guard let shapeValues = member.value["shape"]?.array else { throw bad("no \"shape\" array") }
        var shape: [Int] = []
        var count = 1
        for v in shapeValues {
            guard let size = v.int, size >= 0 else { throw bad("shape \(member.value["shape"]!) has a size that is not a non-negative integer") }
            shape.append(size)
            let (product, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow else { throw bad("shape \(shape) has too many elements") }
            count = product
        }
        guard let offsets = member.value["data_offsets"]?.array, offsets.count == 2,
              let begin = offsets[0].int, let end = offsets[1].int else {
            throw bad("no \"data_offsets\" pair of integers")
        }
        guard begin >= 0, begin <= end else {
            throw fail(.offsetsOutOfBounds(begin: begin, end: end, dataSize: dataSize), name)
        }
        guard end <= dataSize else {
            // The tensor runs past the end of the file: most likely a cut-off download or copy.
            let (total, overflow) = headerEnd.addingReportingOverflow(end)
            throw fail(.truncated(expectedBytes: overflow ? Int.max : total, foundBytes: headerEnd + dataSize), name)
        }
        let (expected, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, expected == end - begin else {
            throw fail(.byteCountMismatch(shape: shape, dtype: dtype, expectedBytes: overflow ? Int.max : expected,
                                          foundBytes: end - begin), name)
        }
        return Entry(name: name, dtype: dtype, shape: shape, byteRange: begin..<end)
    }

    /// The entry called `name`, or nil.
    public func entry(named name: String) -> Entry? { entries.first { $0.name == name } }

    /// The tensor called `name`, converted to Float32.
    public func tensor(named name: String) throws(SafeTensorsError) -> Tensor {
        guard let entry = entry(named: name) else {
            throw SafeTensorsError(file: path, tensor: name, reason: .missingTensor)
        }
        return try tensor(entry)
    }

    /// Every tensor with its name, in the order of the data, converted to Float32.
    public func tensors() throws(SafeTensorsError) -> [(String, Tensor)] {
        var result: [(String, Tensor)] = []
        for entry in entries { result.append((entry.name, try tensor(entry))) }
        return result
    }

    /// The elements of `entry` as a new Float32 tensor.
    public func tensor(_ entry: Entry) throws(SafeTensorsError) -> Tensor {
        let count = entry.shape.reduce(1, *)
        var failure: SafeTensorsError.Reason?
        let tensor = bytes.withUnsafeBytes { raw in
            let start = dataStart + entry.byteRange.lowerBound
            let source = UnsafeRawBufferPointer(rebasing: raw[start..<start + entry.byteRange.count])
            return Tensor(shape: entry.shape) { out in
                failure = entry.dtype.decode(source, count: count, into: out)
            }
        }
        if let failure { throw SafeTensorsError(file: path, tensor: entry.name, reason: failure) }
        return tensor
    }

    /// The bytes of a safetensors file holding `tensors` (Float32, row-major) under their names,
    /// in the order given, with `metadata` (written with sorted keys, so equal inputs give equal
    /// bytes). `dtypes` stores some tensors as another dtype: only `.I64` is supported, for
    /// tensors whose elements are integers (as PyTorch stores `num_batches_tracked`).
    ///
    /// The header is padded with spaces to a multiple of 8 bytes, as the reference writer does.
    ///
    /// - Precondition: names are unique and not `__metadata__`; `I64` tensors hold integers.
    public static func serialize(
        _ tensors: [(String, Tensor)], metadata: [String: String] = [:], dtypes: [String: SafeTensorsDType] = [:]
    ) -> [UInt8] {
        var members: [JSONValue.Member] = []
        if !metadata.isEmpty {
            members.append(.init("__metadata__", .object(metadata.keys.sorted().map { .init($0, .string(metadata[$0]!)) })))
        }
        var names = Set<String>()
        var offset = 0
        var kinds: [SafeTensorsDType] = []
        for (name, tensor) in tensors {
            precondition(name != "__metadata__" && names.insert(name).inserted,
                         "SafeTensors.serialize: tensor name '\(name)' is reserved or repeated")
            let dtype = dtypes[name] ?? .F32
            precondition(dtype == .F32 || dtype == .I64, "SafeTensors.serialize: can't write \(dtype.rawValue)")
            kinds.append(dtype)
            let size = tensor.count * dtype.byteSize
            members.append(.init(name, .object([
                .init("dtype", .string(dtype.rawValue)),
                .init("shape", .array(tensor.shape.map { .integer($0) })),
                .init("data_offsets", .array([.integer(offset), .integer(offset + size)])),
            ])))
            offset += size
        }
        var header = Array(JSONValue.object(members).description.utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var out = [UInt8]()
        out.reserveCapacity(8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header)
        for ((name, tensor), dtype) in zip(tensors, kinds) {
            tensor.withUnsafeBufferPointer { values in
                switch dtype {
                case .I64:
                    for v in values {
                        precondition(v == v.rounded(.towardZero) && Swift.abs(v) < 0x1p62,
                                     "SafeTensors.serialize: I64 tensor '\(name)' holds \(v), not an integer")
                        withUnsafeBytes(of: Int64(v).littleEndian) { out.append(contentsOf: $0) }
                    }
                default:
                    // NOTE: Kiln runs on little-endian machines only; the bytes are copied as they are.
                    out.append(contentsOf: UnsafeRawBufferPointer(values))
                }
            }
        }
        return out
    }

    /// Writes `tensors` and `metadata` to `path` atomically (see ``serialize(_:metadata:dtypes:)``).
    public static func write(
        _ tensors: [(String, Tensor)], metadata: [String: String] = [:], dtypes: [String: SafeTensorsDType] = [:],
        to path: String
    ) throws(SafeTensorsError) {
        do {
            try writeFileAtomically(serialize(tensors, metadata: metadata, dtypes: dtypes), to: path)
        } catch {
            throw SafeTensorsError(file: path, reason: .unwritable(error.reason))
        }
    }
}

/// The element types of the safetensors format.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL
    case F8_E4M3, F8_E5M2

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .F64, .I64, .U64: 8
        case .F32, .I32, .U32: 4
        case .F16, .BF16, .I16, .U16: 2
        case .I8, .U8, .BOOL, .F8_E4M3, .F8_E5M2: 1
        }
    }

    /// Converts `count` little-endian elements from `source` to Float32 in `out`; returns why it
    /// could not, or nil.
    func decode(_ source: UnsafeRawBufferPointer, count: Int, into out: UnsafeMutableBufferPointer<Float>) -> SafeTensorsError.Reason? {
        func load<T: FixedWidthInteger>(_: T.Type, _ i: Int) -> T {
            T(littleEndian: source.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self))
        }
        func integers<T: FixedWidthInteger>(_ type: T.Type) -> SafeTensorsError.Reason? {
            for i in 0..<count {
                let v = load(T.self, i)
                // Float32 holds every integer up to 2^24 exactly; beyond, it would round.
                guard v.magnitude <= 1 << 24 else { return .notRepresentable(element: i, value: "\(v)", dtype: self) }
                out[i] = Float(v)
            }
            return nil
        }
        switch self {
        case .F32:
            UnsafeMutableRawBufferPointer(out).copyMemory(from: source)
        case .F64:
            for i in 0..<count { out[i] = Float(Double(bitPattern: load(UInt64.self, i))) }
        case .F16:
            for i in 0..<count { out[i] = floatFromHalf(load(UInt16.self, i)) }
        case .BF16:
            for i in 0..<count { out[i] = Float(bitPattern: UInt32(load(UInt16.self, i)) << 16) }
        case .I64: return integers(Int64.self)
        case .I32: return integers(Int32.self)
        case .I16: return integers(Int16.self)
        case .I8: return integers(Int8.self)
        case .U64: return integers(UInt64.self)
        case .U32: return integers(UInt32.self)
        case .U16: return integers(UInt16.self)
        case .U8: return integers(UInt8.self)
        case .BOOL:
            for i in 0..<count {
                let b = source[i]
                guard b <= 1 else { return .notRepresentable(element: i, value: "\(b)", dtype: self) }
                out[i] = Float(b)
            }
        case .F8_E4M3, .F8_E5M2:
            return .unsupportedDType(rawValue)
        }
        return nil
    }
}

/// IEEE binary16 bits to Float32 (exact: every half is a float).
private func floatFromHalf(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = Int((h >> 10) & 0x1F)
    let mantissa = UInt32(h & 0x3FF)
    switch exponent {
    case 0:
        // Zero or subnormal: mantissa · 2^-24.
        let magnitude = Float(mantissa) * 0x1p-24
        return sign != 0 ? -magnitude : magnitude
    case 31:
        return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
    default:
        return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | mantissa << 13)
    }
}

/// Why a safetensors file could not be read, written or loaded into a module.
public struct SafeTensorsError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What was wrong.
    public enum Reason: Equatable, Sendable {
        /// The file could not be read (missing, a directory, an I/O error).
        case unreadable(String)
        /// The file could not be written.
        case unwritable(String)
        /// The file ends before the header or data it describes: `expectedBytes` at least.
        case truncated(expectedBytes: Int, foundBytes: Int)
        /// The header length field is larger than any valid header.
        case headerTooLarge(declaredBytes: UInt64, limit: Int)
        /// The header is not the JSON the format describes.
        case invalidHeader(String)
        /// The entry's dtype is unknown, or known but not convertible to Float32.
        case unsupportedDType(String)
        /// The entry's byte range lies outside the data section.
        case offsetsOutOfBounds(begin: Int, end: Int, dataSize: Int)
        /// The entry's byte count is not `product(shape) × dtype size`.
        case byteCountMismatch(shape: [Int], dtype: SafeTensorsDType, expectedBytes: Int, foundBytes: Int)
        /// Sorted by offset, the entry does not start where the previous one ends (a gap or an overlap).
        case notContiguous(expectedOffset: Int, foundOffset: Int)
        /// The entries cover `described` bytes of data but the file holds `found`.
        case dataSizeMismatch(described: Int, found: Int)
        /// An integer element that Float32 cannot hold exactly (or a Boolean byte other than 0/1).
        case notRepresentable(element: Int, value: String, dtype: SafeTensorsDType)
        /// The file has no tensor of that name.
        case missingTensor
        /// The model has no tensor of that name.
        case unexpectedTensor
        /// The tensor's shape differs from the model's.
        case shapeMismatch(expected: [Int], found: [Int])
    }

    /// The file the error is about.
    public let file: String
    /// The tensor the error is about, when there is one.
    public let tensor: String?
    /// What was wrong.
    public let reason: Reason

    /// An error about `file` (and `tensor`).
    public init(file: String, tensor: String? = nil, reason: Reason) {
        self.file = file
        self.tensor = tensor
        self.reason = reason
    }

    /// The file, the tensor and what was expected and found, e.g.
    /// `model.safetensors: tensor '0.weight': expected shape [512, 784], found [512, 700]`.
    public var description: String {
        let subject = tensor.map { "\(file): tensor '\($0)'" } ?? file
        let what: String
        switch reason {
        case .unreadable(let r): what = "can't read: \(r)"
        case .unwritable(let r): what = "can't write: \(r)"
        case .truncated(let e, let f): what = "truncated: expected at least \(e) bytes, found \(f)"
        case .headerTooLarge(let d, let l): what = "header length \(d) exceeds the limit of \(l) bytes (corrupt or not a safetensors file)"
        case .invalidHeader(let r): what = "invalid header: \(r)"
        case .unsupportedDType(let d): what = "unsupported dtype \(d) (expected F32, F16, BF16, F64 or an integer type)"
        case .offsetsOutOfBounds(let b, let e, let s): what = "data_offsets [\(b), \(e)] outside the \(s) bytes of data"
        case .byteCountMismatch(let shape, let d, let e, let f):
            what = "shape \(shape) of \(d.rawValue) needs \(e) bytes, data_offsets give \(f)"
        case .notContiguous(let e, let f): what = "data starts at byte \(f), expected \(e) (gap or overlap)"
        case .dataSizeMismatch(let d, let f): what = "tensors describe \(d) bytes of data, file holds \(f)"
        case .notRepresentable(let i, let v, let d): what = "element \(i) (\(d.rawValue) \(v)) has no exact Float32 value"
        case .missingTensor: what = "missing from the file"
        case .unexpectedTensor: what = "in the file but not in the model"
        case .shapeMismatch(let e, let f): what = "expected shape \(e), found \(f)"
        }
        return "\(subject): \(what)"
    }
}
