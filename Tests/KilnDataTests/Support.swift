import Foundation
import KilnData
import Testing

/// A fresh folder under the system temp folder, removed when the value is freed.
final class TemporaryFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("kiln-data-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// Writes `bytes` to `name` (creating intermediate folders) and returns its URL.
    @discardableResult
    func write(_ bytes: [UInt8], to name: String) throws -> URL {
        let file = url.appendingPathComponent(name)
        try FileManager.default.createDirectory(
            at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: file)
        return file
    }

    /// Writes `text` as UTF-8 to `name` and returns its URL.
    @discardableResult
    func write(_ text: String, to name: String) throws -> URL {
        try write(Array(text.utf8), to: name)
    }
}

/// An IDX file, encoded independently of the reader: magic, big-endian sizes, payload.
func idxFile(magic: UInt32, shape: [Int], payload: [UInt8]) -> [UInt8] {
    var bytes: [UInt8] = []
    for word in [magic] + shape.map(UInt32.init) {
        bytes += [UInt8(word >> 24), UInt8((word >> 16) & 0xFF), UInt8((word >> 8) & 0xFF), UInt8(word & 0xFF)]
    }
    return bytes + payload
}

/// An IDX images file of `images.count` images of `rows × columns` bytes each.
func idxImages(_ images: [[UInt8]], rows: Int, columns: Int) -> [UInt8] {
    idxFile(magic: 0x0000_0803, shape: [images.count, rows, columns], payload: images.flatMap { $0 })
}

/// An IDX labels file.
func idxLabels(_ labels: [UInt8]) -> [UInt8] {
    idxFile(magic: 0x0000_0801, shape: [labels.count], payload: labels)
}

/// A tiny MNIST-format dataset: 3 train and 2 test images of 2×2 pixels.
enum TinyMNIST {
    static let trainImages: [[UInt8]] = [[0, 51, 128, 255], [255, 0, 0, 51], [1, 2, 3, 4]]
    static let trainLabels: [UInt8] = [5, 0, 9]
    static let testImages: [[UInt8]] = [[128, 128, 0, 0], [255, 255, 255, 255]]
    static let testLabels: [UInt8] = [7, 2]

    /// Writes the four files into `folder/subfolder` (or `folder` itself when `subfolder` is nil).
    static func write(in folder: TemporaryFolder, subfolder: String? = nil) throws {
        let prefix = subfolder.map { $0 + "/" } ?? ""
        try folder.write(idxImages(trainImages, rows: 2, columns: 2), to: prefix + "train-images-idx3-ubyte")
        try folder.write(idxLabels(trainLabels), to: prefix + "train-labels-idx1-ubyte")
        try folder.write(idxImages(testImages, rows: 2, columns: 2), to: prefix + "t10k-images-idx3-ubyte")
        try folder.write(idxLabels(testLabels), to: prefix + "t10k-labels-idx1-ubyte")
    }
}

/// Runs `body`, expecting a `DatasetError`, and returns it (nil, with a recorded issue, otherwise).
func datasetError<R>(
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> R
) -> DatasetError? {
    do {
        _ = try body()
        Issue.record("expected a DatasetError, got none", sourceLocation: sourceLocation)
        return nil
    } catch let error as DatasetError {
        return error
    } catch {
        Issue.record("expected a DatasetError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// True when `a` and `b` have the same count and differ by at most `tolerance` everywhere.
func isClose(_ a: [Float], _ b: [Double], tolerance: Double = 1e-6) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs(Double($0) - $1) <= tolerance }
}

/// The repository root, found from this file's path (Tests/KilnDataTests/Support.swift).
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
