import Kiln

/// How a batch's inputs tensor is shaped.
public enum BatchLayout: Sendable, Equatable {
    /// `[n, featureCount]`: one row per sample, e.g. `[128, 784]` for an MLP on MNIST.
    case flat
    /// `[n] + sampleShape`: e.g. `[128, 1, 28, 28]` for a convolutional network on MNIST.
    case shaped
}

/// A mini-batch: the inputs of `count` samples as one tensor and their class labels.
public struct Batch: Sendable {
    /// The features, `[count, featureCount]` or `[count] + sampleShape` (see `BatchLayout`).
    public let inputs: Tensor
    /// The class label of each sample, in the order of the rows of `inputs`.
    public let labels: [Int32]
    /// The position in the dataset of each sample, in the order of the rows of `inputs`.
    public let indices: [Int]
    /// The crop and flip applied to each sample, in the order of the rows of `inputs`; empty
    /// when the batches are not augmented.
    public let augmentations: [Augmentation.Draw]

    /// The number of samples.
    public var count: Int { labels.count }
}

/// The mini-batches of one pass (epoch) over a dataset, in a fixed order.
///
/// A random-access collection: batch `i` holds the samples `order[i * batchSize ..< (i + 1) * batchSize]`
/// (the last one fewer, unless `dropLast`). Each batch is gathered into a fresh tensor when it is
/// read, so the collection itself holds only the order. The same seed gives the same order on every
/// machine; `DataLoader` prepares the same batches on a background thread.
///
/// With an `augmentation`, each sample is cropped and flipped as it is gathered, with choices drawn
/// from `Augmentation.generator(seed: augmentationSeed, batch: i)` for batch `i`: reading a batch
/// twice, or in another order, gives the same values.
public struct Batches: RandomAccessCollection, Sendable {
    /// The dataset the batches are drawn from.
    public let dataset: LabeledDataset
    /// The order in which samples are visited: a permutation of `0..<dataset.count`.
    public let order: [Int]
    /// The number of samples in a full batch.
    public let batchSize: Int
    /// Whether a last batch smaller than `batchSize` is left out.
    public let dropLast: Bool
    /// How each batch's inputs tensor is shaped.
    public let layout: BatchLayout
    /// The random crop and flip applied to every sample, or nil for none.
    public let augmentation: Augmentation?
    /// The seed of the augmentation's random choices.
    public let augmentationSeed: UInt64
    /// The sizes of the augmentation for this dataset's samples.
    private let geometry: ImageGeometry?

    /// The batches of `dataset` visited in `order` (each index in `0..<dataset.count`), each
    /// sample augmented by `augmentation` (if any) with choices drawn from `augmentationSeed`.
    ///
    /// - Precondition: with an augmentation, the samples are images (`[C, H, W]` or `[H, W]`)
    ///   that the crop fits once padded.
    public init(
        dataset: LabeledDataset, order: [Int], batchSize: Int, dropLast: Bool = false, layout: BatchLayout = .flat,
        augmentation: Augmentation? = nil, augmentationSeed: UInt64 = 0
    ) {
        precondition(batchSize > 0, "Batches: batch size must be positive, got \(batchSize)")
        for i in order {
            precondition(i >= 0 && i < dataset.count, "Batches: sample index \(i) outside 0..<\(dataset.count)")
        }
        self.dataset = dataset
        self.order = order
        self.batchSize = batchSize
        self.dropLast = dropLast
        self.layout = layout
        self.augmentation = augmentation
        self.augmentationSeed = augmentationSeed
        self.geometry = augmentation.map { ImageGeometry($0, sampleShape: dataset.sampleShape) }
    }

    /// The position of the first batch, 0.
    public var startIndex: Int { 0 }

    /// The number of batches: `order.count / batchSize`, rounded up unless `dropLast`.
    public var endIndex: Int {
        dropLast ? order.count / batchSize : (order.count + batchSize - 1) / batchSize
    }

    /// Batch `position`, gathered into a new tensor.
    public subscript(position: Int) -> Batch {
        precondition(
            position >= startIndex && position < endIndex, "Batches: batch \(position) outside 0..<\(endIndex)")
        let start = position * batchSize
        let end = Swift.min(start + batchSize, order.count)
        let indices = Array(order[start..<end])
        let labels = indices.map { dataset.labels[$0] }
        guard let augmentation, let geometry else {
            let shape = layout == .flat ? [indices.count, dataset.featureCount] : [indices.count] + dataset.sampleShape
            let inputs = Tensor(shape: shape) { buffer in
                indices.withUnsafeBufferPointer { dataset.gather($0, into: buffer) }
            }
            return Batch(inputs: inputs, labels: labels, indices: indices, augmentations: [])
        }
        let generator = Augmentation.generator(seed: augmentationSeed, batch: position)
        let draws = indices.map { _ in augmentation.draw(geometry, generator) }
        let shape = layout == .flat ? [indices.count, geometry.outputCount] : [indices.count] + geometry.outputShape
        let inputs = Tensor(shape: shape) { buffer in
            indices.withUnsafeBufferPointer { indices in
                draws.withUnsafeBufferPointer { draws in
                    dataset.gather(indices, draws: draws, geometry: geometry, into: buffer)
                }
            }
        }
        return Batch(inputs: inputs, labels: labels, indices: indices, augmentations: draws)
    }
}

extension LabeledDataset {
    /// The mini-batches of one epoch.
    ///
    /// - Parameters:
    ///   - size: samples per batch (positive).
    ///   - shuffle: visit the samples in a random order drawn from `seed`; otherwise in order.
    ///   - seed: the shuffling seed. The same seed gives the same order (a `RandomGenerator`
    ///     permutation); use e.g. `seed &+ UInt64(epoch)` for a new order each epoch.
    ///   - dropLast: leave out a last batch smaller than `size`.
    ///   - layout: `.flat` for `[n, featureCount]` inputs, `.shaped` for `[n] + sampleShape`.
    ///   - augmentation: a random crop and flip of every sample (training only), e.g.
    ///     `.cropAndFlip(padding: 4)`; its choices are drawn from `seed` too (see `Augmentation`),
    ///     so the same seed gives the same batches. nil (the default) for none.
    public func batches(
        size: Int, shuffle: Bool = false, seed: UInt64 = 0, dropLast: Bool = false, layout: BatchLayout = .flat,
        augmentation: Augmentation? = nil
    ) -> Batches {
        let order = shuffle ? RandomGenerator(seed: seed).permutation(count) : Array(0..<count)
        return Batches(
            dataset: self, order: order, batchSize: size, dropLast: dropLast, layout: layout,
            augmentation: augmentation, augmentationSeed: seed)
    }

    /// The mini-batches of one epoch, prepared `prefetch` batches ahead on a background thread
    /// (where the augmentation, if any, runs too). The batches and their order are exactly those of
    /// `batches(size:shuffle:seed:dropLast:layout:augmentation:)`.
    public func loader(
        batchSize size: Int, shuffle: Bool = false, seed: UInt64 = 0, dropLast: Bool = false,
        layout: BatchLayout = .flat, augmentation: Augmentation? = nil, prefetch: Int = 2
    ) -> DataLoader<Batches> {
        DataLoader(
            batches(
                size: size, shuffle: shuffle, seed: seed, dropLast: dropLast, layout: layout,
                augmentation: augmentation),
            prefetch: prefetch)
    }
}
