import Foundation

/// The command that fetches the datasets this package knows, printed in missing-file errors.
let fetchScript = "Scripts/fetch-data.sh"

/// Reads a whole file into memory.
///
/// - Parameter fetchCommand: the command a missing-file error suggests for getting the file.
/// - Throws: `DatasetError.missingFile` when nothing is at `url`, `.unreadableFile` when it is a
///   folder or cannot be read.
func readFileBytes(_ url: URL, fetchCommand: String = fetchScript) throws(DatasetError) -> [UInt8] {
    let path = url.path
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw .missingFile(path: path, fetchCommand: fetchCommand)
    }
    if isDirectory.boolValue {
        throw .unreadableFile(path: path, reason: "it is a folder, expected a file")
    }
    let data: Data
    do {
        data = try Data(contentsOf: url)
    } catch {
        throw .unreadableFile(path: path, reason: "\(error)")
    }
    // One bulk copy; no per-byte iteration over `Data`.
    return [UInt8](unsafeUninitializedCapacity: data.count) { buffer, initialized in
        initialized = data.copyBytes(to: buffer)
    }
}
