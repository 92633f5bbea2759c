/// A classification dataset held in memory: `count` samples, each `featureCount` Float32 features
/// of shape `sampleShape`, with an `Int32` class label in `0..<classCount`.
///
/// MNIST's splits, Fashion-MNIST's and the digits CSV are all `LabeledDataset`s, so one batching
/// API (`batches(size:shuffle:seed:dropLast:layout:)`, `DataLoader`) serves them all.
///
/// Byte-valued datasets (IDX images, CIFAR-10) stay as bytes in memory, a quarter of the Float32
/// size; each byte becomes its normalised Float32 through a 256-entry table when a batch is
/// gathered, so the values are exactly `(Float(byte) / 255 - mean) / std` computed once per byte
/// value. A dataset normalised per channel (CIFAR-10's RGB planes) has one table per channel.
public struct LabeledDataset: Sendable {
    /// The features of all samples, row-major `[count, featureCount]`.
    enum Features: Sendable {
        /// Float32 values, used as they are.
        case float([Float])
        /// Bytes, read through `table`: one 256-entry table per channel, `table.count / 256`
        /// channels. A sample's features split into that many equal contiguous parts (the planes
        /// of a `[C, H, W]` image); feature `j` of part `k` is `table[256 * k + Int(byte)]`. With a
        /// single table (MNIST) every feature reads `table[Int(byte)]`.
        case bytes([UInt8], table: [Float])
    }

    let features: Features

    /// The class label of each sample, in `0..<classCount`.
    public let labels: [Int32]

    /// The shape of one sample, e.g. `[1, 28, 28]` (channels, rows, columns) for MNIST, `[4]` for a
    /// table of 4 columns. Its product is `featureCount`.
    public let sampleShape: [Int]

    /// The number of classes; every label is in `0..<classCount`.
    public let classCount: Int

    /// The number of Float32 features of one sample (the product of `sampleShape`).
    public let featureCount: Int

    /// The number of samples.
    public var count: Int { labels.count }

    /// A dataset of Float32 features, row-major `[labels.count, product(sampleShape)]`.
    ///
    /// The arguments come from the program, so a mismatch is a programmer error (a precondition):
    /// `features.count` must be `labels.count * product(sampleShape)` and every label in
    /// `0..<classCount`. Readers of files check their input and throw `DatasetError` instead.
    public init(features: [Float], labels: [Int32], sampleShape: [Int], classCount: Int) {
        self.init(features: .float(features), labels: labels, sampleShape: sampleShape, classCount: classCount)
    }

    init(features: Features, labels: [Int32], sampleShape: [Int], classCount: Int) {
        precondition(sampleShape.allSatisfy { $0 >= 0 }, "LabeledDataset: negative sample shape \(sampleShape)")
        precondition(classCount > 0, "LabeledDataset: classCount must be positive, got \(classCount)")
        let featureCount = sampleShape.reduce(1, *)
        let stored: Int
        switch features {
        case .float(let values): stored = values.count
        case .bytes(let bytes, let table):
            precondition(
                table.count >= 256 && table.count % 256 == 0,
                "LabeledDataset: a byte table needs 256 entries per channel, got \(table.count)")
            precondition(
                featureCount % (table.count / 256) == 0,
                "LabeledDataset: \(table.count / 256) byte tables do not split samples of shape \(sampleShape)")
            stored = bytes.count
        }
        precondition(
            stored == labels.count * featureCount,
            "LabeledDataset: \(stored) feature values for \(labels.count) samples of shape \(sampleShape)")
        if let bad = labels.firstIndex(where: { $0 < 0 || Int($0) >= classCount }) {
            preconditionFailure("LabeledDataset: label \(labels[bad]) of sample \(bad) is outside 0..<\(classCount)")
        }
        self.features = features
        self.labels = labels
        self.sampleShape = sampleShape
        self.classCount = classCount
        self.featureCount = featureCount
    }

    /// The features of sample `index`, `featureCount` values (normalised, for byte datasets).
    public func features(at index: Int) -> [Float] {
        precondition(index >= 0 && index < count, "LabeledDataset.features(at:): index \(index) outside 0..<\(count)")
        return [Float](unsafeUninitializedCapacity: featureCount) { buffer, initialized in
            [index].withUnsafeBufferPointer { gather($0, into: buffer) }
            initialized = featureCount
        }
    }

    /// The number of samples of each class: element `c` counts the labels equal to `c`.
    public func labelCounts() -> [Int] {
        var counts = [Int](repeating: 0, count: classCount)
        for label in labels { counts[Int(label)] += 1 }
        return counts
    }

    /// The samples at `indices`, in that order (repeats allowed), as a new dataset of the same kind.
    public func subset(_ indices: some Sequence<Int>) -> LabeledDataset {
        let picked = Array(indices)
        for i in picked {
            precondition(i >= 0 && i < count, "LabeledDataset.subset: index \(i) outside 0..<\(count)")
        }
        let newLabels = picked.map { labels[$0] }
        let n = featureCount
        let newFeatures: Features
        switch features {
        case .float(let values):
            newFeatures = .float(Self.gatherRows(values, rows: picked, rowLength: n))
        case .bytes(let bytes, let table):
            newFeatures = .bytes(Self.gatherRows(bytes, rows: picked, rowLength: n), table: table)
        }
        return LabeledDataset(
            features: newFeatures, labels: newLabels, sampleShape: sampleShape, classCount: classCount)
    }

    /// The first `n` samples (all of them when `n >= count`), e.g. for a quick run.
    public func prefix(_ n: Int) -> LabeledDataset {
        precondition(n >= 0, "LabeledDataset.prefix: negative length \(n)")
        return subset(0..<min(n, count))
    }

    /// Copies rows `rows` of the row-major `source` (rows of `rowLength`) into a new array.
    private static func gatherRows<T>(_ source: [T], rows: [Int], rowLength: Int) -> [T] {
        [T](unsafeUninitializedCapacity: rows.count * rowLength) { out, initialized in
            if rowLength > 0 {
                source.withUnsafeBufferPointer { src in
                    for (r, row) in rows.enumerated() {
                        (out.baseAddress! + r * rowLength)
                            .initialize(from: src.baseAddress! + row * rowLength, count: rowLength)
                    }
                }
            }
            initialized = rows.count * rowLength
        }
    }

    /// Writes the features of the samples `indices` (each in `0..<count`, checked by the caller)
    /// into `out`, row after row; `out.count` must be `indices.count * featureCount`.
    func gather(_ indices: UnsafeBufferPointer<Int>, into out: UnsafeMutableBufferPointer<Float>) {
        let n = featureCount
        precondition(
            out.count == indices.count * n,
            "LabeledDataset.gather: buffer of \(out.count) for \(indices.count) rows of \(n)")
        guard n > 0, !indices.isEmpty, let dst = out.baseAddress else { return }
        switch features {
        case .float(let values):
            values.withUnsafeBufferPointer { src in
                let base = src.baseAddress!
                for (r, i) in indices.enumerated() {
                    (dst + r * n).update(from: base + i * n, count: n)
                }
            }
        case .bytes(let bytes, let table):
            let channels = table.count / 256, part = n / channels
            bytes.withUnsafeBufferPointer { src in
                table.withUnsafeBufferPointer { lut in
                    let base = src.baseAddress!
                    for (r, i) in indices.enumerated() {
                        for k in 0..<channels {
                            let row = base + i * n + k * part
                            let outRow = dst + r * n + k * part
                            let channelTable = lut.baseAddress! + 256 * k
                            for j in 0..<part { outRow[j] = channelTable[Int(row[j])] }
                        }
                    }
                }
            }
        }
    }
}
