extension Tensor: CustomStringConvertible, CustomDebugStringConvertible {
    /// NumPy-style text: nested brackets, aligned columns, long axes elided with `...`.
    public var description: String {
        let values = scalars
        let formatted = values.map(Tensor.format)
        let width = formatted.map(\.count).max() ?? 0
        func render(_ dim: Int, _ offset: Int, _ indent: String) -> String {
            if dim == rank { return String(repeating: " ", count: width - formatted[offset].count) + formatted[offset] }
            let n = shape[dim]
            let stride = shape[(dim + 1)...].reduce(1, *)
            let elide = n > 6 && count > 1000
            let shown = elide ? Array(0..<3) + [-1] + Array((n - 3)..<n) : Array(0..<n)
            let separator = dim == rank - 1 ? ", " : ",\n" + String(repeating: "\n", count: Swift.max(0, rank - dim - 2)) + indent + " "
            let parts = shown.map { $0 < 0 ? "..." : render(dim + 1, offset + $0 * stride, indent + " ") }
            return "[" + parts.joined(separator: separator) + "]"
        }
        let body = count == 0 ? "[]" : render(0, 0, "")
        return rank == 0 ? "tensor(\(formatted[0]))" : "tensor(" + body.replacingNewlinesIndent() + ", shape: \(shape))"
    }

    /// The description plus layout details.
    public var debugDescription: String {
        "\(description) strides: \(strides) contiguous: \(isContiguous) requiresGrad: \(requiresGrad)"
    }

    private static func format(_ v: Float) -> String {
        if v.isNaN { return "nan" }
        if v.isInfinite { return v < 0 ? "-inf" : "inf" }
        if v == v.rounded(.towardZero) && Swift.abs(v) < 1e7 { return "\(Int(v))." }
        let s = "\(v)"
        if s.count <= 10 { return s }
        // Shorten the digits, never the exponent ("1.2345678e-05" → "1.2345e-05").
        guard let e = s.firstIndex(of: "e") else { return String(s.prefix(10)) }
        return String(s[..<e].prefix(Swift.max(3, 10 - s[e...].count))) + s[e...]
    }
}

private extension String {
    /// Indents continuation lines under the text `tensor(` so nested rows align.
    func replacingNewlinesIndent() -> String {
        split(separator: "\n", omittingEmptySubsequences: false)
            .enumerated().map { $0.offset == 0 ? String($0.element) : (($0.element.isEmpty ? "" : "       ") + $0.element) }
            .joined(separator: "\n")
    }
}
