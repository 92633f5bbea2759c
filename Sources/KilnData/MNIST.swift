import Foundation

/// MNIST or Fashion-MNIST: 28×28 grey images in 10 classes, a train split (60000) and a test split
/// (10000), read from the four original IDX files:
/// `{train,t10k}-images-idx3-ubyte` and `{train,t10k}-labels-idx1-ubyte`.
///
/// Pixels become Float32 `(x / 255 - mean) / std` (see `Normalization`); samples have shape
/// `[1, rows, columns]` and labels are `Int32` in `0..<10`.
///
/// ```swift
/// let mnist = try MNIST(directory: URL(fileURLWithPath: "data"))   // data/mnist/… or data/…
/// let fashion = try MNIST.fashion(directory: URL(fileURLWithPath: "data"))
/// ```
public struct MNIST: Sendable {
    /// Which of the two datasets of the same format.
    public enum Variant: String, Sendable, CaseIterable {
        /// LeCun and Cortes's handwritten digits.
        case mnist = "mnist"
        /// Zalando's Fashion-MNIST: pictures of clothes.
        case fashion = "fashion-mnist"

        /// The folder `Scripts/fetch-data.sh` puts the files in, under its data folder.
        public var folderName: String { rawValue }

        /// The name of each class, by label.
        public var classNames: [String] {
            switch self {
            case .mnist: return (0..<10).map { String($0) }
            case .fashion:
                return ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
            }
        }

        /// The mean and standard deviation of the train split's pixels (over 255).
        public var trainStatistics: Normalization {
            switch self {
            case .mnist: return .mnist
            case .fashion: return .fashionMNIST
            }
        }

        /// The command that fetches this variant's files.
        public var fetchCommand: String { "Scripts/fetch-data.sh --only \(rawValue)" }
    }

    /// Pixel normalisation: a pixel byte `x` becomes `(Float(x) / 255 - mean) / std`.
    public struct Normalization: Sendable, Equatable {
        /// Subtracted from `x / 255`.
        public var mean: Float
        /// Divides `x / 255 - mean` (positive).
        public var std: Float

        /// `(x / 255 - mean) / std`; `std` must be positive.
        public init(mean: Float, std: Float) {
            precondition(std > 0, "MNIST.Normalization: std must be positive, got \(std)")
            self.mean = mean
            self.std = std
        }

        /// MNIST's train statistics, 0.1307 and 0.3081: normalised train pixels have mean ≈ 0, std ≈ 1.
        public static let mnist = Normalization(mean: 0.1307, std: 0.3081)
        /// Fashion-MNIST's train statistics, 0.2860 and 0.3530.
        public static let fashionMNIST = Normalization(mean: 0.2860, std: 0.3530)
        /// Pixels scaled to [0, 1]: `x / 255`.
        public static let unitInterval = Normalization(mean: 0, std: 1)

        /// The Float32 value of each of the 256 byte values.
        var table: [Float] { (0..<256).map { (Float($0) / 255 - mean) / std } }
    }

    /// The number of classes, 10.
    public static let classCount = 10

    /// The dataset.
    public let variant: Variant
    /// The folder the four files were read from.
    public let directory: URL
    /// The normalisation applied to the pixels.
    public let normalization: Normalization
    /// The train split (`train-*` files): 60000 samples for both variants.
    public let train: LabeledDataset
    /// The test split (`t10k-*` files): 10000 samples for both variants.
    public let test: LabeledDataset

    /// Reads both splits from `directory`, or from its subfolder `variant.folderName` (`mnist`,
    /// `fashion-mnist`) when that exists, the layout `Scripts/fetch-data.sh` writes.
    ///
    /// - Parameter normalization: the pixel normalisation; nil means the variant's own train
    ///   statistics (`Normalization.mnist` for MNIST, `.fashionMNIST` for Fashion-MNIST).
    /// - Throws: `DatasetError` naming the file: a missing file (with the command that fetches
    ///   it), a bad magic number, a truncated or over-long file, labels that do not match the
    ///   images in number, a label outside 0..<10, or test images of another size than train's.
    public init(directory: URL, variant: Variant = .mnist, normalization: Normalization? = nil) throws(DatasetError) {
        let subfolder = directory.appendingPathComponent(variant.folderName, isDirectory: true)
        var isDirectory: ObjCBool = false
        let folder = FileManager.default.fileExists(atPath: subfolder.path, isDirectory: &isDirectory)
            && isDirectory.boolValue ? subfolder : directory
        let normalization = normalization ?? variant.trainStatistics
        let table = normalization.table
        let train = try Self.readSplit("train", in: folder, table: table, fetchCommand: variant.fetchCommand)
        let test = try Self.readSplit("t10k", in: folder, table: table, fetchCommand: variant.fetchCommand)
        if test.dataset.sampleShape != train.dataset.sampleShape {
            let (expected, found) = (train.dataset.sampleShape, test.dataset.sampleShape)
            let axis = expected[1] != found[1] ? 1 : 2
            throw .dimensionMismatch(
                path: test.imagesPath, dimension: axis == 1 ? "the image height" : "the image width",
                expected: expected[axis], found: found[axis])
        }
        self.variant = variant
        self.directory = folder
        self.normalization = normalization
        self.train = train.dataset
        self.test = test.dataset
    }

    /// Fashion-MNIST: `MNIST(directory:variant: .fashion, normalization:)`.
    public static func fashion(directory: URL, normalization: Normalization? = nil) throws(DatasetError) -> MNIST {
        try MNIST(directory: directory, variant: .fashion, normalization: normalization)
    }

    /// Reads `<split>-images-idx3-ubyte` and `<split>-labels-idx1-ubyte` and checks that they agree.
    private static func readSplit(
        _ split: String, in folder: URL, table: [Float], fetchCommand: String
    ) throws(DatasetError) -> (dataset: LabeledDataset, imagesPath: String) {
        let imagesURL = folder.appendingPathComponent("\(split)-images-idx3-ubyte")
        let labelsURL = folder.appendingPathComponent("\(split)-labels-idx1-ubyte")
        let images = try IDX.read(imagesURL, magic: IDX.imagesMagic, fetchCommand: fetchCommand)
        let labels = try IDX.read(labelsURL, magic: IDX.labelsMagic, fetchCommand: fetchCommand)
        let count = images.shape[0]
        guard labels.shape[0] == count else {
            throw .countMismatch(
                path: labelsURL.path, labelCount: labels.shape[0], imagesPath: imagesURL.path, imageCount: count)
        }
        var classes = [Int32](repeating: 0, count: count)
        for (i, byte) in labels.bytes.enumerated() {
            guard Int(byte) < classCount else {
                throw .labelOutOfRange(path: labelsURL.path, index: i, label: Int(byte), classCount: classCount)
            }
            classes[i] = Int32(byte)
        }
        let dataset = LabeledDataset(
            features: .bytes(images.bytes, table: table), labels: classes,
            sampleShape: [1, images.shape[1], images.shape[2]], classCount: classCount)
        return (dataset, imagesURL.path)
    }
}
