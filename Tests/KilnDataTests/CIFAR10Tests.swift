import Foundation
import KilnData
import Testing

/// A CIFAR-10 binary record, encoded independently of the reader: the label byte, then the red,
/// green and blue 32×32 planes, row-major; `pixel(c, y, x)` gives each byte.
func cifarRecord(label: UInt8, pixel: (Int, Int, Int) -> UInt8) -> [UInt8] {
    var record = [label]
    for c in 0..<3 {
        for y in 0..<32 {
            for x in 0..<32 { record.append(pixel(c, y, x)) }
        }
    }
    return record
}

/// A tiny CIFAR-10: five train files of 2 records each, and a test file of 3 records.
enum TinyCIFAR {
    /// Train sample `i` (file `i / 2 + 1`, record `i % 2`) has label `(i + 2) % 10`.
    static let trainLabels: [Int32] = [2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    static let testLabels: [Int32] = [9, 0, 3]

    /// The byte at channel `c`, row `y`, column `x` of train sample `i`.
    static func trainPixel(_ i: Int, _ c: Int, _ y: Int, _ x: Int) -> UInt8 {
        UInt8((i * 3 + c * 40 + y * 2 + x) % 256)
    }

    /// Test record 0 is red 255, green 0, blue 128 everywhere; record 1 is 7 everywhere;
    /// record 2 is 0 except the pixel (row 1, column 2) of each channel, which is 255.
    static func testPixel(_ i: Int, _ c: Int, _ y: Int, _ x: Int) -> UInt8 {
        switch i {
        case 0: return [255, 0, 128][c]
        case 1: return 7
        default: return y == 1 && x == 2 ? 255 : 0
        }
    }

    static func trainFile(_ k: Int) -> [UInt8] {
        (0..<2).flatMap { j -> [UInt8] in
            let i = 2 * (k - 1) + j
            return cifarRecord(label: UInt8(trainLabels[i])) { trainPixel(i, $0, $1, $2) }
        }
    }

    static func testFile() -> [UInt8] {
        (0..<3).flatMap { i in cifarRecord(label: UInt8(testLabels[i])) { testPixel(i, $0, $1, $2) } }
    }

    /// Writes the six files into `folder/subfolder` (or `folder` itself when `subfolder` is nil).
    static func write(in folder: TemporaryFolder, subfolder: String? = nil) throws {
        let prefix = subfolder.map { $0 + "/" } ?? ""
        for k in 1...5 { try folder.write(trainFile(k), to: prefix + "data_batch_\(k).bin") }
        try folder.write(testFile(), to: prefix + "test_batch.bin")
    }
}

@Suite("CIFAR-10 loader")
struct CIFAR10Tests {
    static let mean = [0.4914, 0.4822, 0.4465], std = [0.2470, 0.2435, 0.2616]

    /// `(x / 255 − mean[c]) / std[c]` in Double.
    static func normalised(_ x: UInt8, channel c: Int) -> Double { (Double(x) / 255 - mean[c]) / std[c] }

    @Test("reads both splits: counts, shapes, labels in file order, class names")
    func readsSplits() throws {
        let folder = try TemporaryFolder()
        try TinyCIFAR.write(in: folder)
        let cifar = try CIFAR10(directory: folder.url, recordsPerFile: nil)
        #expect(cifar.normalization == .cifar10)
        #expect(cifar.train.count == 10 && cifar.test.count == 3)
        #expect(cifar.train.sampleShape == [3, 32, 32] && cifar.test.sampleShape == [3, 32, 32])
        #expect(cifar.train.featureCount == 3072)
        #expect(cifar.train.classCount == 10 && CIFAR10.classCount == 10)
        #expect(cifar.train.labels == TinyCIFAR.trainLabels)
        #expect(cifar.test.labels == TinyCIFAR.testLabels)
        #expect(CIFAR10.classNames.count == 10)
        #expect(CIFAR10.classNames[0] == "airplane" && CIFAR10.classNames[3] == "cat" && CIFAR10.classNames[9] == "truck")
        #expect(CIFAR10.recordBytes == 3073 && CIFAR10.recordsPerFile == 10000)
    }

    @Test("each channel is normalised with its own mean and std (values by hand)")
    func perChannelValues() throws {
        let folder = try TemporaryFolder()
        try TinyCIFAR.write(in: folder)
        let cifar = try CIFAR10(directory: folder.url, recordsPerFile: nil)
        // Test record 0: red 255 → (1 − 0.4914) / 0.2470, green 0 → −0.4822 / 0.2435,
        // blue 128 → (128/255 − 0.4465) / 0.2616.
        let first = cifar.test.features(at: 0)
        #expect(isClose(Array(first[0..<1024]), Array(repeating: 2.0591093117408903, count: 1024)))
        #expect(isClose(Array(first[1024..<2048]), Array(repeating: -1.980287474332649, count: 1024)))
        #expect(isClose(Array(first[2048..<3072]), Array(repeating: 0.21200605624512797, count: 1024)))
        // Test record 1: 7 in every channel, three different values.
        let second = cifar.test.features(at: 1)
        #expect(isClose([second[5], second[1024 + 5], second[2048 + 5]],
                        [-1.8783361117726443, -1.8675524419213272, -1.6018693410085747]))
        // Test record 2: the planes are row-major: (row 1, column 2) is element 32 + 2 of each.
        let third = cifar.test.features(at: 2)
        for c in 0..<3 {
            #expect(isClose([third[c * 1024 + 34]], [Self.normalised(255, channel: c)]))
            #expect(isClose([third[c * 1024 + 33], third[c * 1024 + 2], third[c * 1024 + 66]],
                            Array(repeating: Self.normalised(0, channel: c), count: 3)))
        }
    }

    @Test("train samples follow the files in order: every value of every sample")
    func trainValues() throws {
        let folder = try TemporaryFolder()
        try TinyCIFAR.write(in: folder)
        let cifar = try CIFAR10(directory: folder.url, recordsPerFile: nil)
        for i in 0..<10 {
            var expected: [Double] = []
            for c in 0..<3 {
                for y in 0..<32 {
                    for x in 0..<32 { expected.append(Self.normalised(TinyCIFAR.trainPixel(i, c, y, x), channel: c)) }
                }
            }
            #expect(isClose(cifar.train.features(at: i), expected), "train sample \(i)")
        }
        // A subset keeps the per-channel tables.
        let subset = cifar.train.subset([7, 2])
        #expect(subset.features(at: 0) == cifar.train.features(at: 7))
        #expect(subset.features(at: 1) == cifar.train.features(at: 2))
    }

    @Test("unit-interval normalisation gives x / 255")
    func unitInterval() throws {
        let folder = try TemporaryFolder()
        try TinyCIFAR.write(in: folder)
        let cifar = try CIFAR10(directory: folder.url, normalization: .unitInterval, recordsPerFile: nil)
        let first = cifar.test.features(at: 0)
        #expect(isClose([first[0], first[1024], first[2048]], [1, 0, 128.0 / 255]))
    }

    @Test("the cifar-10-batches-bin subfolder is used when present")
    func subfolderLayout() throws {
        let folder = try TemporaryFolder()
        try TinyCIFAR.write(in: folder, subfolder: "cifar-10-batches-bin")
        let cifar = try CIFAR10(directory: folder.url, recordsPerFile: nil)
        #expect(cifar.directory.lastPathComponent == "cifar-10-batches-bin")
        #expect(cifar.test.labels == TinyCIFAR.testLabels)
    }

    @Test("batches of CIFAR-10 samples are [n, 3, 32, 32], augmented or not")
    func batches() throws {
        let folder = try TemporaryFolder()
        try TinyCIFAR.write(in: folder)
        let cifar = try CIFAR10(directory: folder.url, recordsPerFile: nil)
        let plain = cifar.train.batches(size: 4, layout: .shaped)
        #expect(plain[0].inputs.shape == [4, 3, 32, 32])
        #expect(Array(plain[0].inputs.scalars[3072..<6144]) == cifar.train.features(at: 1))
        let augmented = cifar.train.batches(size: 4, shuffle: true, seed: 3, layout: .shaped,
                                            augmentation: .cropAndFlip(padding: 4))
        #expect(augmented.map(\.inputs.shape) == [[4, 3, 32, 32], [4, 3, 32, 32], [2, 3, 32, 32]])
    }

    @Test("real-sized files are expected by default: a small file names expected and found bytes")
    func wrongRecordCount() throws {
        let folder = try TemporaryFolder()
        try TinyCIFAR.write(in: folder)
        let path = folder.url.appendingPathComponent("data_batch_1.bin").path
        let error = datasetError { try CIFAR10(directory: folder.url) }
        #expect(error == .wrongRecordFileSize(path: path, recordBytes: 3073, expectedRecords: 10000, actualBytes: 6146))
        let message = error?.description ?? ""
        #expect(message.contains(path) && message.contains("30730000") && message.contains("6146"))
        #expect(message.contains("truncated"))
    }

    @Test("a file with more records than expected is too long")
    func tooLong() throws {
        let folder = try TemporaryFolder()
        try TinyCIFAR.write(in: folder)
        let path = folder.url.appendingPathComponent("test_batch.bin").path
        let error = datasetError { try CIFAR10(directory: folder.url, recordsPerFile: 2) }
        #expect(error == .wrongRecordFileSize(path: path, recordBytes: 3073, expectedRecords: 2, actualBytes: 9219))
        #expect(error?.description.contains("too long") == true)
        #expect(error?.description.contains("6146") == true)
    }

    @Test("a truncated file (not a whole number of records) names the file and its size")
    func truncated() throws {
        let folder = try TemporaryFolder()
        try TinyCIFAR.write(in: folder)
        let cut = Array(TinyCIFAR.trainFile(3).dropLast(100))
        let url = try folder.write(cut, to: "data_batch_3.bin")
        let error = datasetError { try CIFAR10(directory: folder.url, recordsPerFile: nil) }
        #expect(error == .wrongRecordFileSize(path: url.path, recordBytes: 3073, expectedRecords: nil, actualBytes: 6046))
        let message = error?.description ?? ""
        #expect(message.contains(url.path) && message.contains("6046") && message.contains("multiple of 3073"))
        #expect(message.contains("1 whole record and 2973 bytes over"))
        // With the record count given, the same file is short by 100 bytes.
        let counted = datasetError { try CIFAR10(directory: folder.url, recordsPerFile: 2) }
        #expect(counted == .wrongRecordFileSize(path: url.path, recordBytes: 3073, expectedRecords: 2, actualBytes: 6046))
    }

    @Test("an empty file is an error naming it")
    func emptyFile() throws {
        let folder = try TemporaryFolder()
        try TinyCIFAR.write(in: folder)
        let url = try folder.write([UInt8](), to: "test_batch.bin")
        #expect(datasetError { try CIFAR10(directory: folder.url, recordsPerFile: nil) } == .empty(path: url.path))
    }

    @Test("a label above 9 names the file and the record")
    func badLabel() throws {
        let folder = try TemporaryFolder()
        try TinyCIFAR.write(in: folder)
        var file = TinyCIFAR.testFile()
        file[2 * 3073] = 10   // the label byte of record 2
        let url = try folder.write(file, to: "test_batch.bin")
        let error = datasetError { try CIFAR10(directory: folder.url, recordsPerFile: nil) }
        #expect(error == .labelOutOfRange(path: url.path, index: 2, label: 10, classCount: 10))
        #expect(error?.description.contains(url.path) == true)
        #expect(error?.description.contains("sample 2") == true)
    }

    @Test("a missing file names its path and says the user must supply CIFAR-10")
    func missingFile() throws {
        let folder = try TemporaryFolder()
        try TinyCIFAR.write(in: folder)
        let url = folder.url.appendingPathComponent("data_batch_4.bin")
        try FileManager.default.removeItem(at: url)
        let error = datasetError { try CIFAR10(directory: folder.url, recordsPerFile: nil) }
        guard case .missingUserSuppliedFile(let path, _) = error else {
            Issue.record("expected missingUserSuppliedFile, got \(String(describing: error))")
            return
        }
        #expect(path == url.path)
        let message = error?.description ?? ""
        #expect(message.contains(url.path))
        #expect(message.contains("cannot be fetched here"))
        #expect(message.contains("--data-dir"))
        #expect(message.contains("cifar-10-binary.tar.gz"))
        #expect(error?.path == url.path)

        let none = datasetError { try CIFAR10(directory: folder.url.appendingPathComponent("nowhere")) }
        #expect(none?.path == folder.url.appendingPathComponent("nowhere/data_batch_1.bin").path)
    }
}
