// The atomic writer lives in KilnNN (safetensors files use it too); these re-exports keep it
// part of KilnModels' API.
@_exported import struct KilnNN.FileWriteError
@_exported import func KilnNN.writeFileAtomically

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
