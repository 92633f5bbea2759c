import Testing
@testable import KilnModels
import KilnNN

@Test func resnet20HasTheReferenceShape() {
    let model = ResNet20()
    // conv1 432 + bn1 32 + stage 1 14,016 + stage 2 51,072 + stage 3 203,520 + linear 650 (by hand).
    #expect(model.parameterCount == 269_722)
    let names = model.namedParameters().map(\.0)
    #expect(names.first == "conv1.weight")
    #expect(names.contains("layer2.0.conv1.weight") && names.contains("layer3.2.bn2.bias"))
    #expect(names.last == "linear.bias")
    #expect(model.stateDict().contains { $0.0 == "layer1.1.bn1.running_var" })
    let logits = noGrad { model(Tensor.normal([2, 3, 32, 32])) }
    #expect(logits.shape == [2, 10])
    // The Fashion-MNIST variant: one input channel, 28×28 maps.
    #expect(noGrad { ResNet20(channels: 1)(Tensor.normal([2, 1, 28, 28])) }.shape == [2, 10])
}

@Test func mnistConvNetHasTheReferenceShape() {
    let model = MNISTConvNet()
    #expect(model.parameterCount == 1_199_882)  // PyTorch's examples/mnist Net
    #expect(model.namedParameters().map(\.0) == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                                                 "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"])
    #expect(Swift.abs(BenchWorkload.cnn.flopsPerUnit - 71.95e6) < 0.01e6)  // BENCHMARKS.md
}

@Test func optionAShortcutSubsamplesAndPadsChannels() {
    // With both convolutions zeroed, the residual branch is 0 after batch norm, so the block
    // returns relu(shortcut(x)): x at even rows and columns, with 4 zero channels on each side.
    let block = BasicBlock(8, 16, stride: 2)
    block.conv1.weight.assign(Tensor.zeros(block.conv1.weight.shape))
    block.conv2.weight.assign(Tensor.zeros(block.conv2.weight.shape))
    let x = Tensor.normal([2, 8, 6, 6], generator: RandomGenerator(seed: 3))
    let y = block(x)
    #expect(y.shape == [2, 16, 3, 3])
    let values = y.scalars, input = x.scalars
    for n in 0..<2 {
        for c in 0..<16 {
            for i in 0..<3 {
                for j in 0..<3 {
                    let expected: Float = (4..<12).contains(c)
                        ? Swift.max(0, input[((n * 8 + c - 4) * 6 + 2 * i) * 6 + 2 * j]) : 0
                    #expect(values[((n * 16 + c) * 3 + i) * 3 + j] == expected)
                }
            }
        }
    }
}
