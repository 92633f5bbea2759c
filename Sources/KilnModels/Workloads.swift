import KilnNN
import KilnOptim

extension BenchWorkload {
    /// The `cnn` workload: PyTorch's MNIST example network, batch 64 of 1×28×28, Adadelta lr 1.0.
    public static let cnn = BenchWorkload(
        name: "cnn", unit: "samples", defaultBatchSize: 64, unitsPerSample: 1,
        // conv1 26²·32·9, conv2 24²·64·288, fc1 9216·128, fc2 128·10 multiply-adds, ×2 FLOPs, ×3 for training.
        flopsPerUnit: 3 * 2 * Double(26 * 26 * 32 * 9 + 24 * 24 * 64 * 288 + 9216 * 128 + 128 * 10)
    ) { batchSize, seed, device in
        let generator = RandomGenerator(seed: seed)
        let model = MNISTConvNet(generator: generator).to(device)
        let optimizer = Adadelta(model.parameters(), learningRate: 1.0)
        return classifierStep(model, optimizer, input: [batchSize, 1, 28, 28], classes: 10, generator: generator)
    }

    /// The `resnet20` workload: CIFAR ResNet-20, batch 128 of 3×32×32, SGD lr 0.1 momentum 0.9 wd 5e-4.
    public static let resnet20 = BenchWorkload(
        name: "resnet20", unit: "samples", defaultBatchSize: 128, unitsPerSample: 1,
        flopsPerUnit: 243.3e6  // BENCHMARKS.md: convolutions and the classifier, ×3 for training
    ) { batchSize, seed, device in
        let generator = RandomGenerator(seed: seed)
        let model = ResNet20(generator: generator).to(device)
        let optimizer = SGD(model.parameters(), learningRate: 0.1, momentum: 0.9, weightDecay: 5e-4)
        return classifierStep(model, optimizer, input: [batchSize, 3, 32, 32], classes: 10, generator: generator)
    }
}

/// One training step of `model` on a fixed synthetic batch of shape `input` (on the model's device).
func classifierStep(_ model: any Layer, _ optimizer: any Optimizer, input: [Int], classes: Int,
                    generator: RandomGenerator) -> () -> Void {
    let x = Tensor.normal(input, generator: generator).to(model.device)
    let labels = (0..<input[0]).map { _ in Int32(generator.nextInt(below: classes)) }
    let reduce = BenchWorkload.gradientReducer?(model.parameters())
    return {
        optimizer.zeroGrad()
        let loss = crossEntropy(model(x), labels: labels)
        loss.backward()
        reduce?()
        optimizer.step()
    }
}

extension BenchWorkload {
    /// The `gpt` workload: char GPT (4 layers, 4 heads, width 128, context 128, vocabulary 65),
    /// batch 32 × 128 tokens, AdamW lr 1e-3, β (0.9, 0.99), weight decay 0.1 on matrices only.
    public static let gpt = BenchWorkload(
        name: "gpt", unit: "tokens", defaultBatchSize: 32, unitsPerSample: 128,
        flopsPerUnit: 5.55e6  // BENCHMARKS.md, attention counted over the full T×T
    ) { batchSize, seed, device in
        let generator = RandomGenerator(seed: seed)
        let model = GPT(.reference(), generator: generator).to(device)
        return languageModelStep(model, gptOptimizer(model, learningRate: 1e-3), batch: batchSize, time: 128,
                                 generator: generator)
    }

    /// The `lstm` workload: Embedding(65, 64) → LSTM(64 → 256) → Linear(256, 65), batch 64 × 64
    /// tokens, Adam lr 2e-3.
    public static let lstm = BenchWorkload(
        name: "lstm", unit: "tokens", defaultBatchSize: 64, unitsPerSample: 64, flopsPerUnit: 2.07e6
    ) { batchSize, seed, device in
        let generator = RandomGenerator(seed: seed)
        let model = CharLSTM(generator: generator).to(device)
        return languageModelStep(model, Adam(model.parameters(), learningRate: 2e-3), batch: batchSize, time: 64,
                                 generator: generator)
    }
}

/// AdamW as nanoGPT configures it: β (0.9, 0.99), weight decay 0.1 on parameters of two or more
/// dimensions (matrices, embeddings) and none on the rest (LayerNorm gains).
public func gptOptimizer(_ model: Module, learningRate: Float, weightDecay: Float = 0.1) -> any Optimizer {
    let parameters = model.parameters()
    let decayed = parameters.filter { $0.shape.count >= 2 }
    let plain = parameters.filter { $0.shape.count < 2 }
    var groups: [any Optimizer] = [AdamW(decayed, learningRate: learningRate, beta2: 0.99, weightDecay: weightDecay)]
    if !plain.isEmpty { groups.append(AdamW(plain, learningRate: learningRate, beta2: 0.99, weightDecay: 0)) }
    return OptimizerGroup(groups)
}

/// One training step of a language model on a fixed random batch of `batch` × `time` tokens.
func languageModelStep(_ model: any CharLanguageModel, _ optimizer: any Optimizer, batch: Int, time: Int,
                       generator: RandomGenerator) -> () -> Void {
    let v = model.vocabularySize
    let tokens = (0..<batch * time).map { _ in Int32(generator.nextInt(below: v)) }
    let targets = (0..<batch * time).map { _ in Int32(generator.nextInt(below: v)) }
    let reduce = BenchWorkload.gradientReducer?(model.parameters())
    return {
        optimizer.zeroGrad()
        let loss = crossEntropy(model.logits(tokens, batch: batch, time: time), labels: targets)
        loss.backward()
        reduce?()
        optimizer.step()
    }
}
