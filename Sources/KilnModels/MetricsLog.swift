#if canImport(Glibc)
import Glibc
#endif
import KilnNN

/// A metrics log in JSON Lines: one JSON object per line, each handed to the operating system as
/// soon as it is written (a crash loses at most the line being written), fsynced by ``sync()``
/// (a checkpoint syncs the log and records its length, so that a resumed run cuts it back to the
/// checkpoint and continues it line for line).
///
/// Records written by a training run (`"event"` names the kind):
///
/// ```
/// {"event":"run","model":"mnist-mlp","dataset":"mnist","optimizer":"adam",...}
/// {"event":"step","step":1,"epoch":1,"batch":1,"loss":2.3041,"lr":0.001,"samples_per_second":9012.5,"wall_seconds":0.014,"rss_bytes":...}
/// {"event":"eval","step":469,"epoch":1,"train_loss":0.27,"val_loss":0.11,"accuracy":0.9661,...}
/// {"event":"skip","step":17,"epoch":1,"batch":17,"loss":null,"parameter":"0.weight"}
/// {"event":"resume","step":500,"from":"ckpt/step-00000500"}
/// ```
public final class MetricsLog {
    /// The file written.
    public let path: String
    /// The length of the file in bytes.
    public private(set) var size: Int
    private let fd: Int32

    /// Opens `path` for writing. With `keepingBytes` the first that many bytes of an existing
    /// file are kept and writing continues after them (resuming a run); otherwise the file starts
    /// empty. A file shorter than `keepingBytes` is kept whole.
    public init(path: String, keepingBytes: Int? = nil) throws(FileWriteError) {
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (keepingBytes == nil ? O_TRUNC : 0)
        let fd = open(path, flags, 0o644)
        guard fd >= 0 else { throw FileWriteError(path: path, reason: "open: \(String(cString: strerror(errno)))") }
        var end = Int(lseek(fd, 0, SEEK_END))
        if let keep = keepingBytes, keep < end {
            guard ftruncate(fd, off_t(keep)) == 0 else {
                let e = FileWriteError(path: path, reason: "truncate: \(String(cString: strerror(errno)))")
                close(fd)
                throw e
            }
            end = keep
        }
        lseek(fd, off_t(end), SEEK_SET)
        self.path = path
        self.fd = fd
        self.size = end
    }

    deinit { close(fd) }

    /// Appends `record` as one line.
    public func append(_ record: JSONValue) throws(FileWriteError) {
        let line = Array((record.description + "\n").utf8)
        try writeAll(line, to: fd, path: path)
        size += line.count
    }

    /// Flushes the file to disk.
    public func sync() throws(FileWriteError) {
        guard fsync(fd) == 0 else { throw FileWriteError(path: path, reason: "fsync: \(String(cString: strerror(errno)))") }
    }

    /// The records of a log file, in order. Lines that are not JSON objects (a line cut short by
    /// a crash) are skipped and counted.
    public static func read(_ path: String) throws(FileReadError) -> (records: [JSONValue], skippedLines: Int) {
        let bytes = try readWholeFile(path)
        var records: [JSONValue] = [], skipped = 0
        for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            if let value = try? JSONValue(parsing: line), value.members != nil {
                records.append(value)
            } else {
                skipped += 1
            }
        }
        return (records, skipped)
    }
}
