import KilnNN

/// The `cnn` reference workload: PyTorch's `examples/mnist` network. Two 3×3 convolutions (32 and
/// 64 channels) with ReLU, 2×2 max pooling, dropout 0.25, a 9216→128 layer with ReLU, dropout 0.5
/// and a 128→10 classifier. Parameter names match that example's `Net` (`conv1.weight`, `fc1.bias`…).
public final class MNISTConvNet: Module, Layer {
    /// 1 → 32 channels, 3×3.
    public let conv1: Conv2d
    /// 32 → 64 channels, 3×3.
    public let conv2: Conv2d
    let dropout1: Dropout
    let dropout2: Dropout
    /// 9216 → 128.
    public let fc1: Linear
    /// 128 → 10.
    public let fc2: Linear

    /// The network for `channels`×28×28 inputs (1 for MNIST and Fashion-MNIST).
    public init(channels: Int = 1, classes: Int = 10, generator: RandomGenerator = .global) {
        conv1 = Conv2d(channels, 32, kernelSize: 3, generator: generator)
        conv2 = Conv2d(32, 64, kernelSize: 3, generator: generator)
        dropout1 = Dropout(0.25, generator: generator)
        dropout2 = Dropout(0.5, generator: generator)
        fc1 = Linear(9216, 128, generator: generator)
        fc2 = Linear(128, classes, generator: generator)
        super.init()
    }

    /// Logits `[n, classes]` for images `[n, channels, 28, 28]`.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = conv1(x).relu()
        h = conv2(h).relu()
        h = maxPool2d(h, kernelSize: (2, 2))
        h = dropout1(h).flattened(startAxis: 1)
        h = dropout2(fc1(h).relu())
        return fc2(h)
    }
}
