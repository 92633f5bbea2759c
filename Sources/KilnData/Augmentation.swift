import Kiln

/// Random changes to image samples made while a batch is gathered, so that they run on the
/// `DataLoader`'s background thread: a random crop of the zero-padded image, then a random
/// horizontal flip, as torchvision's `RandomCrop(size, padding)` and `RandomHorizontalFlip(p)`.
///
/// It works on any sample shape `[C, H, W]` (or `[H, W]`; leading axes count as channels): the
/// crop takes the same window from every channel. Padding holds the value a 0 pixel becomes
/// (black, as torchvision pads the raw image before normalising): for byte datasets (MNIST,
/// CIFAR-10) each channel's normalised 0, for Float32 datasets 0.
///
/// The random choices are drawn per sample from a generator seeded by the batches' seed and the
/// batch's position, so the same seed gives the same batches, and `seed &+ UInt64(epoch)` new
/// ones each epoch:
///
/// ```swift
/// cifar.train.loader(batchSize: 128, shuffle: true, seed: seed &+ UInt64(epoch), layout: .shaped,
///                    augmentation: .cropAndFlip(padding: 4))
/// ```
public struct Augmentation: Sendable, Equatable {
    /// A crop of `height × width` pixels at a random position of the image padded by `padding`
    /// pixels on every side.
    public struct RandomCrop: Sendable, Equatable {
        /// The pixels added on each side before cropping (at least 0).
        public var padding: Int
        /// The height of the crop; nil means the sample's own height.
        public var height: Int?
        /// The width of the crop; nil means the sample's own width.
        public var width: Int?

        /// A crop of `height × width` (nil: the sample's own size) of the image padded by `padding`.
        public init(padding: Int, height: Int? = nil, width: Int? = nil) {
            precondition(padding >= 0, "Augmentation.RandomCrop: negative padding \(padding)")
            precondition(height.map { $0 > 0 } ?? true, "Augmentation.RandomCrop: crop height must be positive")
            precondition(width.map { $0 > 0 } ?? true, "Augmentation.RandomCrop: crop width must be positive")
            self.padding = padding
            self.height = height
            self.width = width
        }
    }

    /// The random crop, or nil for none.
    public var randomCrop: RandomCrop?
    /// The probability that a sample is mirrored left to right, after the crop (0: never).
    public var flipProbability: Float

    /// An augmentation that crops with `randomCrop` (if any), then flips with `flipProbability`.
    public init(randomCrop: RandomCrop? = nil, flipProbability: Float = 0) {
        precondition(
            flipProbability >= 0 && flipProbability <= 1,
            "Augmentation: flip probability \(flipProbability) outside 0...1")
        self.randomCrop = randomCrop
        self.flipProbability = flipProbability
    }

    /// The usual CIFAR-10 training augmentation: a random `size × size` crop (nil: the sample's
    /// own size) of the image padded by `padding`, then a horizontal flip with probability
    /// `flipProbability`.
    public static func cropAndFlip(padding: Int = 4, size: Int? = nil, flipProbability: Float = 0.5) -> Augmentation {
        Augmentation(randomCrop: RandomCrop(padding: padding, height: size, width: size), flipProbability: flipProbability)
    }

    /// A random `size × size` crop (nil: the sample's own size) of the image padded by `padding`.
    public static func randomCrop(padding: Int, size: Int? = nil) -> Augmentation {
        Augmentation(randomCrop: RandomCrop(padding: padding, height: size, width: size))
    }

    /// A horizontal flip with probability `probability`.
    public static func horizontalFlip(probability: Float = 0.5) -> Augmentation {
        Augmentation(flipProbability: probability)
    }

    /// The random choices made for one sample.
    public struct Draw: Sendable, Hashable {
        /// The first row of the crop in the padded image: output row `y` is input row
        /// `y + top - padding` (padding where that is outside the image). 0 without a crop.
        public var top: Int
        /// The first column of the crop in the padded image, likewise. 0 without a crop.
        public var left: Int
        /// Whether the crop is mirrored left to right.
        public var flipped: Bool

        /// The choices `top`, `left` (positions in the padded image) and `flipped`.
        public init(top: Int, left: Int, flipped: Bool) {
            self.top = top
            self.left = left
            self.flipped = flipped
        }
    }

    /// The shape of an augmented sample of shape `sampleShape`: the same, with the crop's height
    /// and width as its last two axes.
    public func outputShape(for sampleShape: [Int]) -> [Int] {
        ImageGeometry(self, sampleShape: sampleShape).outputShape
    }

    /// The choices for one sample of shape `sampleShape`, drawn from `generator` in this order:
    /// `top = nextInt(below: H + 2·padding − cropHeight + 1)`, then `left` likewise (only with a
    /// crop), then `flipped = nextFloat() < flipProbability` (only when that is above 0).
    public func draw(for sampleShape: [Int], using generator: RandomGenerator) -> Draw {
        draw(ImageGeometry(self, sampleShape: sampleShape), generator)
    }

    func draw(_ geometry: ImageGeometry, _ generator: RandomGenerator) -> Draw {
        var top = 0, left = 0, flipped = false
        if randomCrop != nil {
            top = generator.nextInt(below: geometry.topChoices)
            left = generator.nextInt(below: geometry.leftChoices)
        }
        if flipProbability > 0 { flipped = generator.nextFloat() < flipProbability }
        return Draw(top: top, left: left, flipped: flipped)
    }

    /// The generator that draws the choices of batch `position` of the batches with `seed`.
    ///
    /// Each batch has its own stream, so a batch is the same whichever order the batches are
    /// read in; both numbers go through a 64-bit mixing function, so nearby seeds and positions
    /// give unrelated streams (and streams unrelated to the shuffle's `RandomGenerator(seed:)`).
    public static func generator(seed: UInt64, batch position: Int) -> RandomGenerator {
        RandomGenerator(seed: mix64(mix64(seed ^ 0x4155_474D_454E_5421) ^ UInt64(truncatingIfNeeded: position)))
    }
}

extension Augmentation: CustomStringConvertible {
    /// What it does, e.g. `random crop (padding 4), horizontal flip (p 0.5)`, or `none`.
    public var description: String {
        var parts: [String] = []
        if let crop = randomCrop {
            let size = crop.height == nil && crop.width == nil
                ? "" : " \(crop.height.map(String.init) ?? "H")×\(crop.width.map(String.init) ?? "W")"
            parts.append("random crop\(size) (padding \(crop.padding))")
        }
        if flipProbability > 0 { parts.append("horizontal flip (p \(flipProbability))") }
        return parts.isEmpty ? "none" : parts.joined(separator: ", ")
    }
}

/// SplitMix64's finalizer: a bijection of 64-bit words that spreads every input bit.
private func mix64(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// The sizes of an augmentation applied to samples of one shape.
struct ImageGeometry {
    /// The product of the axes before the last two, e.g. 3 for `[3, 32, 32]`, 1 for `[H, W]`.
    let channels: Int
    let height: Int
    let width: Int
    let padding: Int
    let outHeight: Int
    let outWidth: Int
    let outputShape: [Int]

    init(_ augmentation: Augmentation, sampleShape: [Int]) {
        precondition(
            sampleShape.count >= 2,
            "Augmentation: needs image samples [C, H, W] or [H, W], got sample shape \(sampleShape)")
        height = sampleShape[sampleShape.count - 2]
        width = sampleShape[sampleShape.count - 1]
        channels = sampleShape.dropLast(2).reduce(1, *)
        let crop = augmentation.randomCrop
        padding = crop?.padding ?? 0
        outHeight = crop?.height ?? height
        outWidth = crop?.width ?? width
        precondition(
            outHeight <= height + 2 * padding && outWidth <= width + 2 * padding,
            "Augmentation: a \(outHeight)×\(outWidth) crop does not fit a \(height)×\(width) image padded by \(padding)")
        outputShape = sampleShape.dropLast(2) + [outHeight, outWidth]
    }

    /// The number of possible crop positions down and across.
    var topChoices: Int { height + 2 * padding - outHeight + 1 }
    var leftChoices: Int { width + 2 * padding - outWidth + 1 }
    var outputCount: Int { channels * outHeight * outWidth }
}

extension LabeledDataset {
    /// The features of sample `index` cropped and flipped as `draw` says, with `augmentation`'s
    /// sizes: the values a batch built with these choices holds for this sample.
    public func features(at index: Int, augmentedBy augmentation: Augmentation, draw: Augmentation.Draw) -> [Float] {
        precondition(index >= 0 && index < count, "LabeledDataset.features(at:): index \(index) outside 0..<\(count)")
        let geometry = ImageGeometry(augmentation, sampleShape: sampleShape)
        precondition(
            draw.top >= 0 && draw.top < geometry.topChoices && draw.left >= 0 && draw.left < geometry.leftChoices,
            "LabeledDataset.features(at:augmentedBy:draw:): crop position \(draw.top), \(draw.left) outside "
                + "0..<\(geometry.topChoices), 0..<\(geometry.leftChoices)")
        return [Float](unsafeUninitializedCapacity: geometry.outputCount) { buffer, initialized in
            [index].withUnsafeBufferPointer { indices in
                [draw].withUnsafeBufferPointer { draws in
                    gather(indices, draws: draws, geometry: geometry, into: buffer)
                }
            }
            initialized = geometry.outputCount
        }
    }

    /// Writes the augmented features of the samples `indices` (checked by the caller), with the
    /// choices `draws` (one per index, in range), into `out`, sample after sample.
    ///
    /// Each output row is written once: its padded ends with the fill value, the rest copied
    /// (or looked up, for bytes) straight from the sample, forwards or mirrored.
    func gather(
        _ indices: UnsafeBufferPointer<Int>, draws: UnsafeBufferPointer<Augmentation.Draw>,
        geometry g: ImageGeometry, into out: UnsafeMutableBufferPointer<Float>
    ) {
        let outCount = g.outputCount
        precondition(
            out.count == indices.count * outCount && draws.count == indices.count,
            "LabeledDataset.gather: buffer of \(out.count) for \(indices.count) augmented samples of \(outCount)")
        guard outCount > 0, !indices.isEmpty, let dst = out.baseAddress else { return }
        let plane = g.height * g.width, n = featureCount
        switch features {
        case .float(let values):
            values.withUnsafeBufferPointer { src in
                for (r, i) in indices.enumerated() {
                    for c in 0..<g.channels {
                        writePlane(
                            src.baseAddress! + i * n + c * plane, dst + r * outCount + c * g.outHeight * g.outWidth,
                            g, draws[r], fill: 0) { $0 }
                    }
                }
            }
        case .bytes(let bytes, let table):
            // Each channel reads through its table; a table covers whole planes (checked here).
            let part = n / (table.count / 256)
            precondition(
                plane == 0 || part % plane == 0,
                "LabeledDataset: \(table.count / 256) byte tables do not cover whole planes of \(sampleShape)")
            bytes.withUnsafeBufferPointer { src in
                table.withUnsafeBufferPointer { lut in
                    for (r, i) in indices.enumerated() {
                        for c in 0..<g.channels {
                            let channelTable = lut.baseAddress! + 256 * (c * plane / part)
                            writePlane(
                                src.baseAddress! + i * n + c * plane, dst + r * outCount + c * g.outHeight * g.outWidth,
                                g, draws[r], fill: channelTable[0]) { channelTable[Int($0)] }
                        }
                    }
                }
            }
        }
    }
}

/// Writes one augmented `outHeight × outWidth` plane from the `height × width` plane at `source`:
/// output `(y, x)` reads input `(y + top − padding, x' + left − padding)` with `x' = x`, or
/// `outWidth − 1 − x` when flipped; outside the input it is `fill`.
@inline(__always)
private func writePlane<Element>(
    _ source: UnsafePointer<Element>, _ destination: UnsafeMutablePointer<Float>, _ g: ImageGeometry,
    _ draw: Augmentation.Draw, fill: Float, _ value: (Element) -> Float
) {
    let rowShift = draw.top - g.padding, columnShift = draw.left - g.padding
    // The crop columns x' whose input column x' + columnShift lies inside the image.
    let firstInside = min(g.outWidth, max(0, -columnShift))
    let endInside = max(firstInside, min(g.outWidth, g.width - columnShift))
    for y in 0..<g.outHeight {
        let out = destination + y * g.outWidth
        let inputRow = y + rowShift
        guard inputRow >= 0 && inputRow < g.height else {
            out.update(repeating: fill, count: g.outWidth)
            continue
        }
        // Input column of crop column x' is rowStart + x' (an index, never a pointer before the plane).
        let rowStart = inputRow * g.width + columnShift
        if draw.flipped {
            // Output x holds crop column outWidth − 1 − x: the inside columns land on
            // outWidth − endInside ..< outWidth − firstInside.
            let lo = g.outWidth - endInside, hi = g.outWidth - firstInside
            out.update(repeating: fill, count: lo)
            for x in lo..<hi { out[x] = value(source[rowStart + g.outWidth - 1 - x]) }
            (out + hi).update(repeating: fill, count: g.outWidth - hi)
        } else {
            out.update(repeating: fill, count: firstInside)
            for x in firstInside..<endInside { out[x] = value(source[rowStart + x]) }
            (out + endInside).update(repeating: fill, count: g.outWidth - endInside)
        }
    }
}
