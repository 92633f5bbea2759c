import Foundation
import KilnData
import Testing

@Suite("MNIST loader")
struct MNISTTests {
    // (x / 255 - 0.1307) / 0.3081, computed by hand (in Double) for the pixel values used.
    static let mnistValue: [UInt8: Double] = [
        0: -0.424212917883804, 51: 0.2249269717624148, 128: 1.2050009227969019, 255: 2.82148653034729,
    ]

    @Test("reads both splits: counts, shapes, labels, MNIST normalisation")
    func readsSplits() throws {
        let folder = try TemporaryFolder()
        try TinyMNIST.write(in: folder)
        let mnist = try MNIST(directory: folder.url)
        #expect(mnist.variant == .mnist)
        #expect(mnist.normalization == .mnist)
        #expect(mnist.train.count == 3)
        #expect(mnist.test.count == 2)
        #expect(mnist.train.sampleShape == [1, 2, 2])
        #expect(mnist.train.featureCount == 4)
        #expect(mnist.train.classCount == 10)
        #expect(mnist.train.labels == [5, 0, 9])
        #expect(mnist.test.labels == [7, 2])
        let first = mnist.train.features(at: 0)   // pixels 0, 51, 128, 255
        #expect(isClose(first, [0, 51, 128, 255].map { Self.mnistValue[$0]! }))
        let secondTest = mnist.test.features(at: 1)   // all 255
        #expect(isClose(secondTest, Array(repeating: 2.82148653034729, count: 4)))
    }

    @Test("a custom normalisation is applied")
    func customNormalization() throws {
        let folder = try TemporaryFolder()
        try TinyMNIST.write(in: folder)
        let unit = try MNIST(directory: folder.url, normalization: .unitInterval)
        #expect(isClose(unit.train.features(at: 0), [0, 0.2, 128.0 / 255, 1]))
        let custom = try MNIST(directory: folder.url, normalization: .init(mean: 0.5, std: 0.25))
        // (1/255 - 0.5) / 0.25, (2/255 - 0.5) / 0.25, ...
        #expect(isClose(custom.train.features(at: 2), [1, 2, 3, 4].map { ($0 / 255 - 0.5) / 0.25 }))
    }

    @Test("Fashion-MNIST reads the fashion-mnist subfolder with its own statistics")
    func fashionVariant() throws {
        let folder = try TemporaryFolder()
        try TinyMNIST.write(in: folder, subfolder: "fashion-mnist")
        let fashion = try MNIST.fashion(directory: folder.url)
        #expect(fashion.variant == .fashion)
        #expect(fashion.directory.lastPathComponent == "fashion-mnist")
        #expect(fashion.normalization == .fashionMNIST)
        // (x / 255 - 0.2860) / 0.3530 for 0, 51, 128, 255.
        #expect(isClose(fashion.train.features(at: 0),
                        [-0.8101983002832861, -0.2436260623229461, 0.6117869244014887, 2.0226628895184136]))
        #expect(MNIST.Variant.fashion.classNames[9] == "Ankle boot")
    }

    @Test("the mnist subfolder of a data folder is used when present")
    func subfolderLayout() throws {
        let folder = try TemporaryFolder()
        try TinyMNIST.write(in: folder, subfolder: "mnist")
        let mnist = try MNIST(directory: folder.url)
        #expect(mnist.directory.lastPathComponent == "mnist")
        #expect(mnist.train.labels == [5, 0, 9])
    }

    @Test("a missing file names the expected path and the fetch command")
    func missingFile() throws {
        let folder = try TemporaryFolder()
        try TinyMNIST.write(in: folder)
        let labels = folder.url.appendingPathComponent("t10k-labels-idx1-ubyte")
        try FileManager.default.removeItem(at: labels)
        let error = datasetError { try MNIST(directory: folder.url) }
        #expect(error == .missingFile(path: labels.path, fetchCommand: "Scripts/fetch-data.sh --only mnist"))
        #expect(error?.description.contains(labels.path) == true)
        #expect(error?.description.contains("Scripts/fetch-data.sh --only mnist") == true)

        let fashion = datasetError { try MNIST.fashion(directory: folder.url.appendingPathComponent("none")) }
        #expect(fashion?.description.contains("Scripts/fetch-data.sh --only fashion-mnist") == true)
    }

    @Test("labels that do not match the images in number are an error naming both files")
    func countMismatch() throws {
        let folder = try TemporaryFolder()
        try TinyMNIST.write(in: folder)
        let labels = try folder.write(idxLabels([5, 0]), to: "train-labels-idx1-ubyte")
        let images = folder.url.appendingPathComponent("train-images-idx3-ubyte")
        let error = datasetError { try MNIST(directory: folder.url) }
        #expect(error == .countMismatch(path: labels.path, labelCount: 2, imagesPath: images.path, imageCount: 3))
        #expect(error?.description.contains(labels.path) == true)
        #expect(error?.description.contains(images.path) == true)
    }

    @Test("a label outside 0..<10 is an error naming the file and the sample")
    func labelOutOfRange() throws {
        let folder = try TemporaryFolder()
        try TinyMNIST.write(in: folder)
        let labels = try folder.write(idxLabels([7, 10]), to: "t10k-labels-idx1-ubyte")
        let error = datasetError { try MNIST(directory: folder.url) }
        #expect(error == .labelOutOfRange(path: labels.path, index: 1, label: 10, classCount: 10))
        #expect(error?.description.contains(labels.path) == true)
        #expect(error?.description.contains("0..<10") == true)
    }

    @Test("test images of another size than train's are an error")
    func imageSizeMismatch() throws {
        let folder = try TemporaryFolder()
        try TinyMNIST.write(in: folder)
        let images = try folder.write(idxImages([[1, 2, 3], [4, 5, 6]], rows: 1, columns: 3), to: "t10k-images-idx3-ubyte")
        let error = datasetError { try MNIST(directory: folder.url) }
        #expect(error == .dimensionMismatch(path: images.path, dimension: "the image height", expected: 2, found: 1))
        #expect(error?.description.contains(images.path) == true)
    }

    @Test("a swapped images file (labels magic) is reported with its path")
    func swappedFiles() throws {
        let folder = try TemporaryFolder()
        try TinyMNIST.write(in: folder)
        let images = try folder.write(idxLabels([1, 2, 3]), to: "train-images-idx3-ubyte")
        #expect(datasetError { try MNIST(directory: folder.url) }
                == .badMagic(path: images.path, expected: 0x0000_0803, found: 0x0000_0801))
    }
}
