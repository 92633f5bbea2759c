#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Why a file could not be written.
public struct FileWriteError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file that was being written.
    public let path: String
    /// What failed, with the system's reason.
    public let reason: String

    /// An error about `path`.
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    /// The path and the reason.
    public var description: String { "can't write \(path): \(reason)" }
}

/// Why a file could not be read.
public struct FileReadError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file that was being read.
    public let path: String
    /// What failed, with the system's reason.
    public let reason: String

    /// The path and the reason.
    public var description: String { "can't read \(path): \(reason)" }
}

/// Distinguishes the temporary files of concurrent writers in one process.
private let temporaryCounter = Atomic<Int>(0)

/// Writes `bytes` to `path` so that a reader sees the old file or the whole new one, never a part:
/// a temporary file beside it, fsync, rename over `path`, fsync of the directory. On failure the
/// temporary file is removed and `path` is as it was.
public func writeFileAtomically(_ bytes: [UInt8], to path: String) throws(FileWriteError) {
    let n = temporaryCounter.add(1, ordering: .relaxed).newValue
    let temp = path + ".tmp-\(getpid())-\(n)"
    do {
        try writeFileSynced(bytes, to: temp)
    } catch {
        unlink(temp)
        throw FileWriteError(path: path, reason: error.reason)
    }
    if rename(temp, path) != 0 {
        let e = systemError(path, "rename")
        unlink(temp)
        throw e
    }
    try syncDirectory(parentDirectory(of: path))
}

/// Creates (or truncates) `path`, writes `bytes` and fsyncs the file. A crash meanwhile can leave
/// a partial file: write into a temporary place and rename, as ``writeFileAtomically(_:to:)`` does.
package func writeFileSynced(_ bytes: [UInt8], to path: String) throws(FileWriteError) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw systemError(path, "open") }
    defer { close(fd) }
    try writeAll(bytes, to: fd, path: path)
    guard fsync(fd) == 0 else { throw systemError(path, "fsync") }
}

/// Writes every byte of `bytes` to the open descriptor `fd`, retrying short writes and EINTR.
package func writeAll(_ bytes: [UInt8], to fd: Int32, path: String) throws(FileWriteError) {
    var written = 0
    while written < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, bytes.count - written) }
        if n < 0 {
            if errno == EINTR { continue }
            throw systemError(path, "write")
        }
        if n == 0 { throw FileWriteError(path: path, reason: "write: no progress") }
        written += n
    }
}

/// Flushes a directory's entries (new, renamed and removed names) to disk. File systems that
/// cannot sync a directory (EINVAL) are accepted.
package func syncDirectory(_ path: String) throws(FileWriteError) {
    let fd = open(path.isEmpty ? "/" : path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { throw systemError(path, "open directory") }
    defer { close(fd) }
    if fsync(fd) != 0 && errno != EINVAL { throw systemError(path, "fsync directory") }
}

/// The directory holding `path` ("." for a bare name).
package func parentDirectory(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    let parent = String(path[..<slash])
    return parent.isEmpty ? "/" : parent
}

/// Reads the whole file at `path`.
package func readWholeFile(_ path: String) throws(FileReadError) -> [UInt8] {
    func fail(_ what: String) -> FileReadError {
        FileReadError(path: path, reason: "\(what): \(String(cString: strerror(errno)))")
    }
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw fail("open") }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw fail("stat") }
    if (info.st_mode & S_IFMT) == S_IFDIR {
        throw FileReadError(path: path, reason: "it is a directory, expected a file")
    }
    var bytes = [UInt8]()
    bytes.reserveCapacity(Int(info.st_size))
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw fail("read")
        }
        if n == 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return bytes
}

private func systemError(_ path: String, _ what: String) -> FileWriteError {
    FileWriteError(path: path, reason: "\(what): \(String(cString: strerror(errno)))")
}
