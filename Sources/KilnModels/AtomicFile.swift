#if canImport(Glibc)
import Glibc
#endif

/// Why a file could not be written.
public struct FileWriteError: Error, CustomStringConvertible {
    /// The file that was being written.
    public let path: String
    /// What failed, with the system's reason.
    public let reason: String
    /// The path and the reason.
    public var description: String { "can't write \(path): \(reason)" }
}

/// Writes `bytes` to `path` so that a reader sees the old file or the whole new one, never a part:
/// a temporary file beside it, fsync, rename over `path`, fsync of the directory.
public func writeFileAtomically(_ bytes: [UInt8], to path: String) throws(FileWriteError) {
    func fail(_ what: String) -> FileWriteError {
        FileWriteError(path: path, reason: "\(what): \(String(cString: strerror(errno)))")
    }
    let temp = path + ".tmp-\(getpid())"
    let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw fail("open \(temp)") }
    var written = 0
    while written < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, bytes.count - written) }
        if n < 0 {
            if errno == EINTR { continue }
            let e = fail("write")
            close(fd)
            unlink(temp)
            throw e
        }
        written += n
    }
    if fsync(fd) != 0 { let e = fail("fsync"); close(fd); unlink(temp); throw e }
    close(fd)
    if rename(temp, path) != 0 { let e = fail("rename"); unlink(temp); throw e }
    let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
    let dfd = open(directory.isEmpty ? "/" : directory, O_RDONLY)
    if dfd >= 0 { fsync(dfd); close(dfd) }
}

/// A small JSON writer for reports: keys keep their insertion order.
public struct JSONObject: CustomStringConvertible {
    private var fields: [(String, String)] = []

    /// An empty object.
    public init() {}

    /// Adds a string field.
    public mutating func add(_ key: String, _ value: String) { fields.append((key, JSONObject.quote(value))) }
    /// Adds an integer field.
    public mutating func add(_ key: String, _ value: Int) { fields.append((key, "\(value)")) }
    /// Adds a number field (non-finite numbers become null).
    public mutating func add(_ key: String, _ value: Double) {
        fields.append((key, value.isFinite ? "\(value)" : "null"))
    }
    /// Adds a number field.
    public mutating func add(_ key: String, _ value: Float) { add(key, Double(value)) }
    /// Adds an array of objects.
    public mutating func add(_ key: String, _ value: [JSONObject]) {
        fields.append((key, "[" + value.map(\.description).joined(separator: ", ") + "]"))
    }

    /// The object as one line of JSON.
    public var description: String {
        "{" + fields.map { "\(JSONObject.quote($0.0)): \($0.1)" }.joined(separator: ", ") + "}"
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if c.value < 0x20 {
                    let hex = String(c.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        return out + "\""
    }
}
