import KilnNN
import KilnOptim

extension BenchWorkload {
    /// The `cnn` workload: PyTorch's MNIST example network, batch 64 of 1×28×28, Adadelta lr 1.0.
    public static let cnn = BenchWorkload(
        name: "cnn", unit: "samples", defaultBatchSize: 64, unitsPerSample: 1,
        // conv1 26²·32·9, conv2 24²·64·288, fc1 9216·128, fc2 128·10 multiply-adds, ×2 FLOPs, ×3 for training.
        flopsPerUnit: 3 * 2 * Double(26 * 26 * 32 * 9 + 24 * 24 * 64 * 288 + 9216 * 128 + 128 * 10)
    ) { batchSize, seed in
        let generator = RandomGenerator(seed: seed)
        let model = MNISTConvNet(generator: generator)
        let optimizer = Adadelta(model.parameters(), learningRate: 1.0)
        return classifierStep(model, optimizer, input: [batchSize, 1, 28, 28], classes: 10, generator: generator)
    }

    /// The `resnet20` workload: CIFAR ResNet-20, batch 128 of 3×32×32, SGD lr 0.1 momentum 0.9 wd 5e-4.
    public static let resnet20 = BenchWorkload(
        name: "resnet20", unit: "samples", defaultBatchSize: 128, unitsPerSample: 1,
        flopsPerUnit: 243.3e6  // BENCHMARKS.md: convolutions and the classifier, ×3 for training
    ) { batchSize, seed in
        let generator = RandomGenerator(seed: seed)
        let model = ResNet20(generator: generator)
        let optimizer = SGD(model.parameters(), learningRate: 0.1, momentum: 0.9, weightDecay: 5e-4)
        return classifierStep(model, optimizer, input: [batchSize, 3, 32, 32], classes: 10, generator: generator)
    }
}

/// One training step of `model` on a fixed synthetic batch of shape `input`.
func classifierStep(_ model: any Layer, _ optimizer: any Optimizer, input: [Int], classes: Int,
                    generator: RandomGenerator) -> () -> Void {
    let x = Tensor.normal(input, generator: generator)
    let labels = (0..<input[0]).map { _ in Int32(generator.nextInt(below: classes)) }
    return {
        optimizer.zeroGrad()
        let loss = crossEntropy(model(x), labels: labels)
        loss.backward()
        optimizer.step()
    }
}
