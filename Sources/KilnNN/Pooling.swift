import Kiln

/// Max over each window of `[N, C, H, W]` inputs (PyTorch's `nn.MaxPool2d`, floor mode).
public final class MaxPool2d: Module, Layer {
    /// Window size (rows, columns).
    public let kernelSize: (Int, Int)
    /// Step between windows; the kernel size by default.
    public let stride: (Int, Int)
    /// −∞ added on each side (at most half the kernel).
    public let padding: (Int, Int)

    /// Max pooling over `kernelSize` windows.
    public init(kernelSize: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) {
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
        super.init()
    }

    /// Max pooling over square `kernelSize × kernelSize` windows.
    public convenience init(_ kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        self.init(kernelSize: (kernelSize, kernelSize), stride: stride.map { ($0, $0) }, padding: (padding, padding))
    }

    /// Applies the layer to `input`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        maxPool2d(input, kernelSize: kernelSize, stride: stride, padding: padding)
    }
}

/// Mean over each window of `[N, C, H, W]` inputs (PyTorch's `nn.AvgPool2d` with
/// `count_include_pad=True`).
public final class AvgPool2d: Module, Layer {
    /// Window size (rows, columns).
    public let kernelSize: (Int, Int)
    /// Step between windows; the kernel size by default.
    public let stride: (Int, Int)
    /// Zeros added on each side (at most half the kernel); they count in the mean.
    public let padding: (Int, Int)

    /// Average pooling over `kernelSize` windows.
    public init(kernelSize: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) {
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
        super.init()
    }

    /// Average pooling over square `kernelSize × kernelSize` windows.
    public convenience init(_ kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        self.init(kernelSize: (kernelSize, kernelSize), stride: stride.map { ($0, $0) }, padding: (padding, padding))
    }

    /// Applies the layer to `input`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        avgPool2d(input, kernelSize: kernelSize, stride: stride, padding: padding)
    }
}

/// Mean over PyTorch's adaptive bins to a fixed output size (`nn.AdaptiveAvgPool2d`);
/// `AdaptiveAvgPool2d(1)` is global average pooling.
public final class AdaptiveAvgPool2d: Module, Layer {
    /// Output height and width.
    public let outputSize: (Int, Int)

    /// Adaptive average pooling to `outputSize.0 × outputSize.1`.
    public init(_ outputSize: (Int, Int)) {
        self.outputSize = outputSize
        super.init()
    }

    /// Adaptive average pooling to `outputSize × outputSize`.
    public convenience init(_ outputSize: Int) { self.init((outputSize, outputSize)) }

    /// Applies the layer to `input`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        adaptiveAvgPool2d(input, outputSize: outputSize)
    }
}
