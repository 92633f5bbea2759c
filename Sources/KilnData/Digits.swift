import Foundation

/// The scikit-learn digits: 1797 grey 8×8 images of handwritten digits (UCI), pixel values 0…16,
/// stored as `digits.csv` (64 pixel columns then the label, no header). A small real dataset for
/// fast end-to-end tests; `Scripts/fetch-data.sh --only digits` fetches it into `data/digits/`.
public enum Digits {
    /// The number of samples in the file, 1797.
    public static let sampleCount = 1797
    /// The shape of one image, `[1, 8, 8]` (channels, rows, columns).
    public static let sampleShape = [1, 8, 8]
    /// The number of classes, 10.
    public static let classCount = 10

    /// Reads `digits.csv`; pixels are multiplied by `scale` (by default `1 / 16`, giving [0, 1]).
    ///
    /// - Throws: `DatasetError` naming the file and line (see `LabeledDataset.csv`).
    public static func load(csv url: URL, scale: Float = 1.0 / 16) throws(DatasetError) -> LabeledDataset {
        try LabeledDataset.csv(
            url, featureCount: 64, classCount: classCount, sampleShape: sampleShape,
            featureScale: scale, fetchCommand: "Scripts/fetch-data.sh --only digits")
    }
}
