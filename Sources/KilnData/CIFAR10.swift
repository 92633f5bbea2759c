import Foundation

/// CIFAR-10: 32×32 colour images in 10 classes, a train split (50000, in five files) and a test
/// split (10000), read from the files of the binary version (`cifar-10-binary.tar.gz`):
/// `data_batch_1.bin` … `data_batch_5.bin` and `test_batch.bin`.
///
/// Each file is a run of records of 3073 bytes: one label byte (0…9), then 3072 pixel bytes, the
/// red plane, the green plane and the blue plane, each 32×32 row-major. That is exactly a
/// `[3, 32, 32]` sample, so the pixels stay bytes in memory (154 MB for the train split) and
/// become Float32 `(x / 255 - mean[c]) / std[c]` per channel `c` as batches are gathered.
///
/// No package available here ships CIFAR-10: the user supplies the files (see
/// `DatasetError.missingUserSuppliedFile`).
///
/// ```swift
/// let cifar = try CIFAR10(directory: URL(fileURLWithPath: "data"))   // data/cifar-10-batches-bin/… or data/…
/// for batch in cifar.train.loader(batchSize: 128, shuffle: true, seed: seed &+ UInt64(epoch),
///                                 layout: .shaped, augmentation: .cropAndFlip(padding: 4)) { … }
/// ```
public struct CIFAR10: Sendable {
    /// Per-channel pixel normalisation: a byte `x` of channel `c` becomes `(Float(x) / 255 - mean[c]) / std[c]`.
    public struct Normalization: Sendable, Equatable {
        /// Subtracted from `x / 255`, one value per channel (red, green, blue).
        public var mean: [Float]
        /// Divides `x / 255 - mean[c]`, one positive value per channel.
        public var std: [Float]

        /// `(x / 255 - mean[c]) / std[c]`: three means and three positive standard deviations.
        public init(mean: [Float], std: [Float]) {
            precondition(
                mean.count == 3 && std.count == 3,
                "CIFAR10.Normalization: needs 3 means and 3 stds (R, G, B), got \(mean.count) and \(std.count)")
            precondition(std.allSatisfy { $0 > 0 }, "CIFAR10.Normalization: every std must be positive, got \(std)")
            self.mean = mean
            self.std = std
        }

        /// The statistics PyTorch's CIFAR-10 examples use: mean (0.4914, 0.4822, 0.4465),
        /// std (0.2470, 0.2435, 0.2616), per channel, of the train split's pixels over 255.
        public static let cifar10 = Normalization(mean: [0.4914, 0.4822, 0.4465], std: [0.2470, 0.2435, 0.2616])
        /// Pixels scaled to [0, 1]: `x / 255`.
        public static let unitInterval = Normalization(mean: [0, 0, 0], std: [1, 1, 1])

        /// The Float32 value of each of the 256 byte values, for each channel: 768 entries.
        var table: [Float] {
            (0..<3).flatMap { c in (0..<256).map { (Float($0) / 255 - mean[c]) / std[c] } }
        }
    }

    /// The number of classes, 10.
    public static let classCount = 10
    /// The name of each class, by label.
    public static let classNames = [
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
    ]
    /// The shape of one sample, `[3, 32, 32]` (channels, rows, columns).
    public static let sampleShape = [3, 32, 32]
    /// The bytes of one record: 1 label byte and 3 × 32 × 32 pixel bytes.
    public static let recordBytes = 1 + 3 * 32 * 32
    /// The number of records in each file of the real dataset, 10000.
    public static let recordsPerFile = 10_000
    /// The five files of the train split, in the order their samples are numbered.
    public static let trainFiles = (1...5).map { "data_batch_\($0).bin" }
    /// The file of the test split.
    public static let testFile = "test_batch.bin"
    /// The folder the archive unpacks into; used when the given folder contains it.
    public static let folderName = "cifar-10-batches-bin"

    /// What to do when a file is missing: no script here can fetch CIFAR-10.
    static let instructions = "CIFAR-10 cannot be fetched here (no package available to this machine "
        + "ships it): download its binary version, cifar-10-binary.tar.gz, from "
        + "https://www.cs.toronto.edu/~kriz/cifar.html, unpack it, and put data_batch_1.bin … "
        + "data_batch_5.bin and test_batch.bin in the data folder (--data-dir) or in its "
        + "subfolder \(folderName)"

    /// The folder the six files were read from.
    public let directory: URL
    /// The normalisation applied to the pixels.
    public let normalization: Normalization
    /// The train split (`data_batch_1.bin` … `data_batch_5.bin`, in that order): 50000 samples.
    public let train: LabeledDataset
    /// The test split (`test_batch.bin`): 10000 samples.
    public let test: LabeledDataset

    /// Reads both splits from `directory`, or from its subfolder `cifar-10-batches-bin` when that
    /// exists (the folder the archive unpacks into).
    ///
    /// - Parameters:
    ///   - normalization: the per-channel pixel normalisation (by default `.cifar10`).
    ///   - recordsPerFile: the number of records each file must hold, 10000 for the real
    ///     dataset; `nil` accepts any positive whole number of records per file (small files
    ///     written by tests, or a cut-down copy of the dataset).
    /// - Throws: `DatasetError` naming the file: `.missingUserSuppliedFile` (saying where to get
    ///   CIFAR-10 and where to put it), `.unreadableFile`, `.wrongRecordFileSize` (a truncated or
    ///   over-long file: expected and found bytes), `.empty`, or `.labelOutOfRange` (naming the record).
    public init(
        directory: URL, normalization: Normalization = .cifar10, recordsPerFile: Int? = CIFAR10.recordsPerFile
    ) throws(DatasetError) {
        precondition(recordsPerFile.map { $0 > 0 } ?? true, "CIFAR10: recordsPerFile must be positive")
        let subfolder = directory.appendingPathComponent(Self.folderName, isDirectory: true)
        var isDirectory: ObjCBool = false
        let folder = FileManager.default.fileExists(atPath: subfolder.path, isDirectory: &isDirectory)
            && isDirectory.boolValue ? subfolder : directory
        let table = normalization.table
        self.directory = folder
        self.normalization = normalization
        self.train = try Self.readSplit(Self.trainFiles, in: folder, recordsPerFile: recordsPerFile, table: table)
        self.test = try Self.readSplit([Self.testFile], in: folder, recordsPerFile: recordsPerFile, table: table)
    }

    /// Reads `files` in order into one dataset.
    private static func readSplit(
        _ files: [String], in folder: URL, recordsPerFile: Int?, table: [Float]
    ) throws(DatasetError) -> LabeledDataset {
        var pixels: [UInt8] = []
        var labels: [Int32] = []
        for name in files {
            let url = folder.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw .missingUserSuppliedFile(path: url.path, instructions: instructions)
            }
            let file = try readFileBytes(url)
            let records = try recordCount(of: file, path: url.path, expected: recordsPerFile)
            if pixels.isEmpty { pixels.reserveCapacity(files.count * records * (recordBytes - 1)) }
            try decode(file, records: records, path: url.path, pixels: &pixels, labels: &labels)
        }
        return LabeledDataset(
            features: .bytes(pixels, table: table), labels: labels, sampleShape: sampleShape, classCount: classCount)
    }

    /// The number of records in `file`, after checking its length.
    static func recordCount(of file: [UInt8], path: String, expected: Int?) throws(DatasetError) -> Int {
        if let expected {
            guard file.count == expected * recordBytes else {
                throw .wrongRecordFileSize(
                    path: path, recordBytes: recordBytes, expectedRecords: expected, actualBytes: file.count)
            }
            return expected
        }
        guard !file.isEmpty else { throw .empty(path: path) }
        guard file.count % recordBytes == 0 else {
            throw .wrongRecordFileSize(path: path, recordBytes: recordBytes, expectedRecords: nil, actualBytes: file.count)
        }
        return file.count / recordBytes
    }

    /// Appends the pixels and labels of the `records` records of `file` (checked in length).
    private static func decode(
        _ file: [UInt8], records: Int, path: String, pixels: inout [UInt8], labels: inout [Int32]
    ) throws(DatasetError) {
        let imageBytes = recordBytes - 1
        var fileLabels = [Int32](repeating: 0, count: records)
        for r in 0..<records {
            let label = file[r * recordBytes]
            guard Int(label) < classCount else {
                throw .labelOutOfRange(path: path, index: r, label: Int(label), classCount: classCount)
            }
            fileLabels[r] = Int32(label)
        }
        let filePixels = [UInt8](unsafeUninitializedCapacity: records * imageBytes) { out, initialized in
            file.withUnsafeBufferPointer { src in
                for r in 0..<records {
                    (out.baseAddress! + r * imageBytes)
                        .initialize(from: src.baseAddress! + r * recordBytes + 1, count: imageBytes)
                }
            }
            initialized = records * imageBytes
        }
        pixels += filePixels
        labels += fileLabels
    }
}
