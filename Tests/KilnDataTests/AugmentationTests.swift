import Foundation
import Kiln
import KilnData
import Testing

/// `count` samples of shape `[channels, height, width]` whose every value is distinct and
/// non-zero: sample s, channel c, row y, column x holds `1000·s + 100·c + 10·y + x + 1`.
func gridDataset(count: Int = 2, channels: Int = 2, height: Int = 3, width: Int = 4) -> LabeledDataset {
    var features: [Float] = []
    for s in 0..<count {
        for c in 0..<channels {
            for y in 0..<height {
                for x in 0..<width { features.append(Float(1000 * s + 100 * c + 10 * y + x + 1)) }
            }
        }
    }
    return LabeledDataset(
        features: features, labels: (0..<count).map { Int32($0 % 3) }, sampleShape: [channels, height, width],
        classCount: 3)
}

@Suite("Augmentation: random crop and flip")
struct AugmentationTests {
    typealias Draw = Augmentation.Draw

    @Test("a flip mirrors every row of every channel (by hand)")
    func flipByHand() {
        let values = gridDataset().features(at: 0, augmentedBy: .horizontalFlip(), draw: Draw(top: 0, left: 0, flipped: true))
        #expect(values == [
            4, 3, 2, 1, 14, 13, 12, 11, 24, 23, 22, 21,
            104, 103, 102, 101, 114, 113, 112, 111, 124, 123, 122, 121,
        ])
        let unflipped = gridDataset().features(at: 1, augmentedBy: .horizontalFlip(), draw: Draw(top: 0, left: 0, flipped: false))
        #expect(unflipped == gridDataset().features(at: 1))
    }

    @Test("a crop of the padded image: offsets and zero padding (by hand)")
    func cropByHand() {
        let dataset = gridDataset()
        // Padding 1: output (y, x) is input (y + top − 1, x + left − 1). top 0, left 2:
        // row 0 is above the image, rows 1 and 2 are input rows 0 and 1 shifted left by one.
        let crop = Augmentation.randomCrop(padding: 1)
        #expect(dataset.features(at: 0, augmentedBy: crop, draw: Draw(top: 0, left: 2, flipped: false)) == [
            0, 0, 0, 0, 2, 3, 4, 0, 12, 13, 14, 0,
            0, 0, 0, 0, 102, 103, 104, 0, 112, 113, 114, 0,
        ])
        // top 2, left 0, then flipped: the crop is rows 1, 2 and one below, columns −1 ..< 3;
        // mirrored, the padded column lands on the right.
        #expect(dataset.features(at: 1, augmentedBy: .cropAndFlip(padding: 1), draw: Draw(top: 2, left: 0, flipped: true)) == [
            1013, 1012, 1011, 0, 1023, 1022, 1021, 0, 0, 0, 0, 0,
            1113, 1112, 1111, 0, 1123, 1122, 1121, 0, 0, 0, 0, 0,
        ])
        // The centre position (top = left = padding) without a flip is the image itself.
        #expect(dataset.features(at: 1, augmentedBy: crop, draw: Draw(top: 1, left: 1, flipped: false))
                == dataset.features(at: 1))
        // A smaller crop without padding: 2×2 at row 1, column 2.
        let small = Augmentation.randomCrop(padding: 0, size: 2)
        #expect(small.outputShape(for: [2, 3, 4]) == [2, 2, 2])
        #expect(dataset.features(at: 0, augmentedBy: small, draw: Draw(top: 1, left: 2, flipped: false))
                == [13, 14, 23, 24, 113, 114, 123, 124])
        #expect(dataset.features(at: 0, augmentedBy: small, draw: Draw(top: 1, left: 2, flipped: true))
                == [14, 13, 24, 23, 114, 113, 124, 123])
        // Padding wider than the crop's reach: a position entirely in the padding is all zeros.
        let wide = Augmentation.randomCrop(padding: 4, size: 2)
        #expect(dataset.features(at: 0, augmentedBy: wide, draw: Draw(top: 0, left: 9, flipped: true)) == Array(repeating: 0, count: 8))
    }

    @Test("padding holds the value a 0 pixel normalises to: MNIST's, and each CIFAR-10 channel's")
    func paddingValue() throws {
        let folder = try TemporaryFolder()
        try TinyMNIST.write(in: folder)
        let mnist = try MNIST(directory: folder.url)
        // Train image 2 is [[1, 2], [3, 4]]; (0/255 − 0.1307)/0.3081 pads it.
        let pad = -0.424212917883804
        let crop = Augmentation.randomCrop(padding: 1)
        #expect(isClose(mnist.train.features(at: 2, augmentedBy: crop, draw: Draw(top: 0, left: 0, flipped: false)),
                        [pad, pad, pad, -0.41148468475348593]))
        #expect(isClose(mnist.train.features(at: 2, augmentedBy: crop, draw: Draw(top: 2, left: 2, flipped: false)),
                        [-0.37329998536253195, pad, pad, pad]))

        let cifarFolder = try TemporaryFolder()
        try TinyCIFAR.write(in: cifarFolder)
        let cifar = try CIFAR10(directory: cifarFolder.url, recordsPerFile: nil)
        // Test record 1 is 7 everywhere: shifted by 4 both ways, (0, 0) is padding, (4, 4) is 7.
        let shifted = cifar.test.features(at: 1, augmentedBy: .cropAndFlip(padding: 4), draw: Draw(top: 0, left: 0, flipped: false))
        let zeros = [-1.9894736842105263, -1.980287474332649, -1.7068042813455657]
        let sevens = [-1.8783361117726443, -1.8675524419213272, -1.6018693410085747]
        for c in 0..<3 {
            #expect(isClose([shifted[c * 1024], shifted[c * 1024 + 3 * 32 + 31]], [zeros[c], zeros[c]]))
            #expect(isClose([shifted[c * 1024 + 4 * 32 + 4], shifted[c * 1024 + 1023]], [sevens[c], sevens[c]]))
        }
    }

    @Test("choices come from the generator: top, left, then the flip (by hand)")
    func drawsFromGenerator() {
        let augmentation = Augmentation.cropAndFlip(padding: 4)
        let drawn = (0..<20).map { _ in augmentation.draw(for: [3, 32, 32], using: RandomGenerator(seed: 9)) }
        #expect(Set(drawn).count == 1, "a fresh generator with the same seed draws the same")
        let reference = RandomGenerator(seed: 9)
        let top = reference.nextInt(below: 9), left = reference.nextInt(below: 9)
        let flipped = reference.nextFloat() < 0.5
        #expect(drawn[0] == Draw(top: top, left: left, flipped: flipped))

        // A 24×24 crop of an unpadded 28×28 image has 5 positions each way; no flip, no draw.
        let crop = Augmentation.randomCrop(padding: 0, size: 24)
        let generator = RandomGenerator(seed: 4), again = RandomGenerator(seed: 4)
        for _ in 0..<10 {
            let d = crop.draw(for: [1, 28, 28], using: generator)
            #expect(d == Draw(top: again.nextInt(below: 5), left: again.nextInt(below: 5), flipped: false))
        }
        // Without a crop only the flip is drawn.
        let flip = Augmentation.horizontalFlip(), g = RandomGenerator(seed: 5), h = RandomGenerator(seed: 5)
        #expect(flip.draw(for: [1, 28, 28], using: g) == Draw(top: 0, left: 0, flipped: h.nextFloat() < 0.5))
    }

    @Test("positions cover every offset; about half the samples are flipped")
    func distribution() {
        let augmentation = Augmentation.cropAndFlip(padding: 4)
        let generator = RandomGenerator(seed: 2024)
        let draws = (0..<2000).map { _ in augmentation.draw(for: [3, 32, 32], using: generator) }
        #expect(Set(draws.map(\.top)) == Set(0...8))
        #expect(Set(draws.map(\.left)) == Set(0...8))
        let flips = draws.filter(\.flipped).count
        #expect(flips > 900 && flips < 1100, "\(flips) flips in 2000")
        #expect(Augmentation.horizontalFlip(probability: 1).draw(for: [1, 2, 2], using: generator).flipped)
        #expect(!Augmentation.horizontalFlip(probability: 0).draw(for: [1, 2, 2], using: generator).flipped)
    }

    @Test("each batch records its choices and holds exactly the augmented samples")
    func batchesHoldAugmentedSamples() {
        let dataset = gridDataset(count: 20, channels: 2, height: 5, width: 6)
        let augmentation = Augmentation.cropAndFlip(padding: 2)
        let batches = dataset.batches(size: 6, shuffle: true, seed: 11, layout: .shaped, augmentation: augmentation)
        #expect(batches.count == 4)
        for (position, batch) in batches.enumerated() {
            #expect(batch.inputs.shape == [batch.count, 2, 5, 6])
            let generator = Augmentation.generator(seed: 11, batch: position)
            let expectedDraws = batch.indices.map { _ in augmentation.draw(for: [2, 5, 6], using: generator) }
            #expect(batch.augmentations == expectedDraws)
            let rows = batch.inputs.scalars
            for (r, i) in batch.indices.enumerated() {
                #expect(Array(rows[60 * r..<60 * (r + 1)])
                        == dataset.features(at: i, augmentedBy: augmentation, draw: batch.augmentations[r]))
            }
        }
        // Some samples are shifted or flipped (the choices are not all the identity).
        let identity = Draw(top: 2, left: 2, flipped: false)
        #expect(batches.flatMap(\.augmentations).contains { $0 != identity })
        #expect(dataset.batches(size: 6).allSatisfy { $0.augmentations.isEmpty })
    }

    /// Asserts that two sequences of batches hold the same samples, choices and values.
    func expectSame(_ a: [Batch], _ b: [Batch], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.count == b.count, sourceLocation: sourceLocation)
        for (x, y) in zip(a, b) {
            #expect(x.indices == y.indices, sourceLocation: sourceLocation)
            #expect(x.augmentations == y.augmentations, sourceLocation: sourceLocation)
            #expect(x.inputs.shape == y.inputs.shape, sourceLocation: sourceLocation)
            #expect(x.inputs.scalars == y.inputs.scalars, sourceLocation: sourceLocation)
        }
    }

    @Test("the same seed gives the same batches, on the loader thread too; another seed others")
    func deterministic() {
        let dataset = gridDataset(count: 30, channels: 1, height: 6, width: 6)
        let augmentation = Augmentation.cropAndFlip(padding: 3)
        func epoch(_ seed: UInt64, shuffle: Bool = true) -> Batches {
            dataset.batches(size: 8, shuffle: shuffle, seed: seed, layout: .shaped, augmentation: augmentation)
        }
        let first = Array(epoch(7))
        expectSame(first, Array(epoch(7)))
        // Read backwards and twice: each batch depends only on the seed and its position.
        expectSame(first, Array(Array(epoch(7).reversed()).reversed()))
        expectSame([first[2]], [epoch(7)[2]])
        // The loader builds the same batches on its background thread.
        let loaded = Array(dataset.loader(batchSize: 8, shuffle: true, seed: 7, layout: .shaped,
                                          augmentation: augmentation, prefetch: 3))
        expectSame(first, loaded)
        // The next epoch's seed changes the choices, even when the order is not shuffled.
        #expect(first.flatMap(\.augmentations) != Array(epoch(8)).flatMap(\.augmentations))
        let unshuffled = (Array(epoch(1, shuffle: false)), Array(epoch(2, shuffle: false)))
        #expect(unshuffled.0.flatMap(\.indices) == unshuffled.1.flatMap(\.indices))
        #expect(unshuffled.0.flatMap(\.augmentations) != unshuffled.1.flatMap(\.augmentations))
        #expect(unshuffled.0.map(\.inputs.scalars) != unshuffled.1.map(\.inputs.scalars))
    }

    @Test("shapes: preserved for [3, 32, 32] and [1, 28, 28], flat or shaped; a smaller crop shrinks them")
    func shapes() {
        let cifarLike = gridDataset(count: 5, channels: 3, height: 32, width: 32)
        let shaped = cifarLike.batches(size: 4, layout: .shaped, augmentation: .cropAndFlip(padding: 4))
        #expect(shaped.map(\.inputs.shape) == [[4, 3, 32, 32], [1, 3, 32, 32]])
        let flat = cifarLike.batches(size: 4, augmentation: .cropAndFlip(padding: 4))
        #expect(flat.map(\.inputs.shape) == [[4, 3072], [1, 3072]])
        #expect(flat[0].inputs.scalars == shaped[0].inputs.scalars)

        let fashionLike = gridDataset(count: 3, channels: 1, height: 28, width: 28)
        let fashion = Array(fashionLike.loader(batchSize: 2, shuffle: true, seed: 1, layout: .shaped,
                                               augmentation: .cropAndFlip(padding: 4)))
        #expect(fashion.map(\.inputs.shape) == [[2, 1, 28, 28], [1, 1, 28, 28]])
        let smaller = fashionLike.batches(size: 3, layout: .shaped, augmentation: .randomCrop(padding: 0, size: 24))
        #expect(smaller[0].inputs.shape == [3, 1, 24, 24])
        #expect(Augmentation.cropAndFlip(padding: 4).outputShape(for: [3, 32, 32]) == [3, 32, 32])
        #expect(Augmentation.horizontalFlip().outputShape(for: [28, 28]) == [28, 28])
    }

    @Test("no crop and no flip leaves the batches as they were")
    func identity() {
        let dataset = gridDataset(count: 9)
        let plain = Array(dataset.batches(size: 4, shuffle: true, seed: 3, layout: .shaped))
        let none = Array(dataset.batches(size: 4, shuffle: true, seed: 3, layout: .shaped, augmentation: Augmentation()))
        #expect(plain.map(\.inputs.scalars) == none.map(\.inputs.scalars))
        #expect(none.flatMap(\.augmentations).allSatisfy { $0 == Draw(top: 0, left: 0, flipped: false) })
    }
}
