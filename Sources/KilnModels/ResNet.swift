import KilnNN

/// A basic residual block of the CIFAR ResNets (He et al. 2016): two 3×3 convolutions with batch
/// norm, and an option-A shortcut — the identity, or when the block downsamples, a stride-2
/// subsample of the input padded with zero channels (no parameters).
public final class BasicBlock: Module, Layer {
    /// First 3×3 convolution (carries the stride).
    public let conv1: Conv2d
    /// Batch norm after `conv1`.
    public let bn1: BatchNorm2d
    /// Second 3×3 convolution.
    public let conv2: Conv2d
    /// Batch norm after `conv2`.
    public let bn2: BatchNorm2d
    let stride: Int
    let extraChannels: Int

    /// A block from `inChannels` to `outChannels`, downsampling by `stride`.
    public init(_ inChannels: Int, _ outChannels: Int, stride: Int = 1, generator: RandomGenerator = .global) {
        conv1 = Conv2d(inChannels, outChannels, kernelSize: 3, stride: stride, padding: 1, bias: false, generator: generator)
        bn1 = BatchNorm2d(outChannels)
        conv2 = Conv2d(outChannels, outChannels, kernelSize: 3, padding: 1, bias: false, generator: generator)
        bn2 = BatchNorm2d(outChannels)
        self.stride = stride
        self.extraChannels = outChannels - inChannels
        super.init()
        for conv in [conv1, conv2] { conv.weight.assign(Init.kaimingNormal(conv.weight.shape, generator: generator)) }
    }

    /// `relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var shortcut = x
        if stride != 1 || extraChannels != 0 {
            shortcut = x.strided(axis: 2, step: stride).strided(axis: 3, step: stride)
            let pad = extraChannels / 2
            shortcut = shortcut.padded([(0, 0), (pad, extraChannels - pad), (0, 0), (0, 0)])
        }
        return bn2(conv2(bn1(conv1(x), relu: true)), adding: shortcut, relu: true)
    }
}

/// The `resnet20` reference workload: CIFAR ResNet-20 (3 stages × 3 basic blocks, 16/32/64
/// channels, option-A shortcuts, global average pooling, a linear classifier; 0.27 M parameters).
/// Names follow the common PyTorch CIFAR implementation: `conv1`, `bn1`, `layer1.0.conv1`, …, `linear`.
/// For 1×28×28 inputs (Fashion-MNIST) pass `channels: 1`: only the stem changes; the stages see
/// 28×28, 14×14 and 7×7 maps and the global pool makes the classifier independent of size.
public final class ResNet20: Module, Layer {
    /// Stem convolution, `channels` → 16.
    public let conv1: Conv2d
    /// Batch norm after the stem.
    public let bn1: BatchNorm2d
    /// Stage 1: 16 channels.
    public let layer1: [BasicBlock]
    /// Stage 2: 32 channels, stride 2.
    public let layer2: [BasicBlock]
    /// Stage 3: 64 channels, stride 2.
    public let layer3: [BasicBlock]
    /// 64 → classes.
    public let linear: Linear

    /// ResNet-20 for `channels`-channel images.
    public init(channels: Int = 3, classes: Int = 10, generator: RandomGenerator = .global) {
        conv1 = Conv2d(channels, 16, kernelSize: 3, padding: 1, bias: false, generator: generator)
        bn1 = BatchNorm2d(16)
        func stage(_ inC: Int, _ outC: Int, _ stride: Int) -> [BasicBlock] {
            (0..<3).map { i in BasicBlock(i == 0 ? inC : outC, outC, stride: i == 0 ? stride : 1, generator: generator) }
        }
        layer1 = stage(16, 16, 1)
        layer2 = stage(16, 32, 2)
        layer3 = stage(32, 64, 2)
        linear = Linear(64, classes, generator: generator)
        super.init()
        conv1.weight.assign(Init.kaimingNormal(conv1.weight.shape, generator: generator))
        linear.weight.assign(Init.kaimingNormal(linear.weight.shape, generator: generator))
    }

    /// Logits `[n, classes]` for images `[n, channels, h, w]`.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = bn1(conv1(x), relu: true)
        for block in layer1 + layer2 + layer3 { h = block(h) }
        h = adaptiveAvgPool2d(h, outputSize: (1, 1)).flattened(startAxis: 1)
        return linear(h)
    }
}
