import Kiln

/// 2-D convolution over `[N, inChannels, H, W]` inputs (PyTorch's `nn.Conv2d`).
///
/// `weight` is `[outChannels, inChannels / groups, kh, kw]`, `bias` `[outChannels]`; both start
/// uniform in ±1/√fan_in with fan_in = inChannels / groups · kh · kw (PyTorch's default:
/// Kaiming-uniform with a = √5), drawn weight first, then bias.
public final class Conv2d: Module, Layer {
    /// `[outChannels, inChannels / groups, kh, kw]`.
    public let weight: Parameter
    /// `[outChannels]`, or nil without bias.
    public let bias: Parameter?
    /// Step between windows (rows, columns).
    public let stride: (Int, Int)
    /// Zeros added on each side (rows, columns).
    public let padding: (Int, Int)
    /// Spacing between kernel taps (rows, columns).
    public let dilation: (Int, Int)
    /// Channel groups: input and output channels are split into `groups` independent convolutions.
    public let groups: Int

    /// A convolution with a `kernelSize.0 × kernelSize.1` kernel.
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: (Int, Int), stride: (Int, Int) = (1, 1),
                padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1), groups: Int = 1, bias: Bool = true,
                generator: RandomGenerator = .global) {
        precondition(inChannels > 0 && outChannels > 0 && groups > 0
                     && inChannels % groups == 0 && outChannels % groups == 0,
                     "Conv2d: \(groups) groups must divide \(inChannels) input and \(outChannels) output channels")
        precondition(kernelSize.0 > 0 && kernelSize.1 > 0, "Conv2d: kernel size \(kernelSize) must be positive")
        let shape = [outChannels, inChannels / groups, kernelSize.0, kernelSize.1]
        let bound = 1 / Float(Init.fans(shape).fanIn).squareRoot()
        weight = Parameter(Init.uniform(shape, bound: bound, generator: generator))
        self.bias = bias ? Parameter(Init.uniform([outChannels], bound: bound, generator: generator)) : nil
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        super.init()
    }

    /// A convolution with a square `kernelSize × kernelSize` kernel and the same stride, padding
    /// and dilation along both axes.
    public convenience init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                            dilation: Int = 1, groups: Int = 1, bias: Bool = true, generator: RandomGenerator = .global) {
        self.init(inChannels, outChannels, kernelSize: (kernelSize, kernelSize), stride: (stride, stride),
                  padding: (padding, padding), dilation: (dilation, dilation), groups: groups, bias: bias,
                  generator: generator)
    }

    /// Applies the layer to `input` `[N, inChannels, H, W]`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        conv2d(input, weight: weight.value, bias: bias?.value, stride: stride, padding: padding,
               dilation: dilation, groups: groups)
    }
}
