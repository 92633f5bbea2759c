import KilnNN
import Testing

/// Conv2d, pooling and batch-norm layers: initialisation, state-dict names, and the
/// training/evaluation behaviour of BatchNorm (and Dropout beside it).
@Suite struct ConvLayerTests {
    @Test func conv2dInitialisesLikePyTorch() {
        let conv = Conv2d(16, 32, kernelSize: 3, generator: RandomGenerator(seed: 1))
        #expect(conv.weight.shape == [32, 16, 3, 3] && conv.bias!.shape == [32])
        let bound = 1 / Float(16 * 9).squareRoot()
        let w = conv.weight.value.scalars, b = conv.bias!.value.scalars
        #expect(w.allSatisfy { Swift.abs($0) <= bound } && b.allSatisfy { Swift.abs($0) <= bound })
        #expect(w.min()! < -0.95 * bound && w.max()! > 0.95 * bound)
        #expect(b.min()! < -0.5 * bound && b.max()! > 0.5 * bound)
        // Groups shrink fan-in: weight [out, in/groups, kh, kw].
        let grouped = Conv2d(8, 4, kernelSize: (3, 5), groups: 2, bias: false, generator: RandomGenerator(seed: 2))
        #expect(grouped.weight.shape == [4, 4, 3, 5] && grouped.bias == nil)
        let groupedBound = 1 / Float(4 * 15).squareRoot()
        #expect(grouped.weight.value.scalars.allSatisfy { Swift.abs($0) <= groupedBound })
        #expect(grouped.weight.value.scalars.max()! > 0.9 * groupedBound)
    }

    @Test func conv2dAppliesItsGeometry() {
        let conv = Conv2d(3, 4, kernelSize: 3, stride: 2, padding: 1, dilation: 1, generator: RandomGenerator(seed: 3))
        let x = random([2, 3, 9, 8], seed: 4)
        let y = conv(x)
        #expect(y.shape == [2, 4, 5, 4])
        let expected = conv2d(x, weight: conv.weight.value, bias: conv.bias!.value, stride: (2, 2), padding: (1, 1))
        #expect(y.scalars == expected.scalars)
        // Tuple form.
        let rect = Conv2d(3, 2, kernelSize: (1, 3), stride: (2, 1), padding: (0, 1))
        #expect(rect(x).shape == [2, 2, 5, 8])
        // Gradients reach the parameters.
        y.sum().backward()
        #expect(conv.weight.grad?.shape == [4, 3, 3, 3] && conv.bias!.grad?.shape == [4])
    }

    @Test func stateDictNamesMatchPyTorch() {
        let model = Sequential(Conv2d(1, 4, kernelSize: 3), BatchNorm2d(4), ReLU(), MaxPool2d(2),
                               Conv2d(4, 4, kernelSize: 3, bias: false), BatchNorm2d(4, affine: false),
                               AdaptiveAvgPool2d(1), Flatten(), BatchNorm1d(4), Linear(4, 2))
        let names = model.stateDict().map(\.0)
        #expect(names == [
            "0.weight", "0.bias", "1.weight", "1.bias", "4.weight", "8.weight", "8.bias", "9.weight", "9.bias",
            "1.running_mean", "1.running_var", "1.num_batches_tracked",
            "5.running_mean", "5.running_var", "5.num_batches_tracked",
            "8.running_mean", "8.running_var", "8.num_batches_tracked",
        ])
        let shapes = Dictionary(uniqueKeysWithValues: model.stateDict().map { ($0.0, $0.1.shape) })
        #expect(shapes["1.running_mean"] == [4] && shapes["1.num_batches_tracked"] == [])
        #expect(model.parameters().count == 9)
        // Without tracking, no buffers.
        #expect(BatchNorm2d(3, trackRunningStats: false).ownBuffers.isEmpty)
    }

    @Test func poolingLayers() {
        let x = random([2, 3, 8, 6], seed: 5)
        #expect(MaxPool2d(2)(x).scalars == maxPool2d(x, kernelSize: (2, 2)).scalars)
        #expect(MaxPool2d(3, stride: 2, padding: 1)(x).shape == [2, 3, 4, 3])
        #expect(MaxPool2d(kernelSize: (2, 3))(x).shape == [2, 3, 4, 2])
        #expect(AvgPool2d(2)(x).scalars == avgPool2d(x, kernelSize: (2, 2)).scalars)
        #expect(AvgPool2d(3, stride: 1, padding: 1)(x).shape == [2, 3, 8, 6])
        #expect(AdaptiveAvgPool2d(1)(x).shape == [2, 3, 1, 1])
        #expect(AdaptiveAvgPool2d((3, 2))(x).shape == [2, 3, 3, 2])
    }

    @Test func batchNormTrainingAndEvaluation() {
        let bn = BatchNorm2d(2, momentum: 0.5)
        bn.weight!.assign(Tensor([2, 1]))
        bn.bias!.assign(Tensor([0, 1]))
        let x = random([4, 2, 3, 3], seed: 6, in: 1...5)
        let batchMean = x.mean(axes: [0, 2, 3]), batchVar = x.variance(axes: [0, 2, 3], correction: 0)
        let unbiased = x.variance(axes: [0, 2, 3])

        // Training: batch statistics; running statistics move halfway (momentum 0.5).
        let y = bn(x)
        let normalized = (x - batchMean.reshaped([1, 2, 1, 1])) / (batchVar.reshaped([1, 2, 1, 1]) + 1e-5).sqrt()
        expectClose(y.scalars, (normalized * Tensor([2, 1]).reshaped([1, 2, 1, 1]) + Tensor([0, 1]).reshaped([1, 2, 1, 1])).scalars,
                    atol: 1e-5, "training output")
        expectClose(bn.runningMean.scalars, (batchMean * 0.5).scalars, atol: 1e-6, "running mean")
        expectClose(bn.runningVar.scalars, (unbiased * 0.5 + 0.5).scalars, atol: 1e-5, "running var")
        #expect(bn.numBatchesTracked.item == 1)

        // Evaluation: the running statistics normalise and stay put.
        bn.eval()
        let runningMean = bn.runningMean.scalars, runningVar = bn.runningVar.scalars
        let z = bn(x)
        let expected = (x - bn.runningMean.reshaped([1, 2, 1, 1])) / (bn.runningVar.reshaped([1, 2, 1, 1]) + 1e-5).sqrt()
            * Tensor([2, 1]).reshaped([1, 2, 1, 1]) + Tensor([0, 1]).reshaped([1, 2, 1, 1])
        expectClose(z.scalars, expected.scalars, atol: 1e-5, "evaluation output")
        #expect(bn.runningMean.scalars == runningMean && bn.runningVar.scalars == runningVar)
        #expect(bn.numBatchesTracked.item == 1)
        // The same input gives the same output twice in evaluation, unlike training.
        #expect(bn(x).scalars == z.scalars)

        // Back to training: batch statistics again, and another update.
        bn.train()
        expectClose(bn(x).scalars, y.scalars, atol: 1e-6, "training again")
        expectClose(bn.runningMean.scalars, (batchMean * 0.75).scalars, atol: 1e-6, "second update")
        #expect(bn.numBatchesTracked.item == 2)
    }

    @Test func batchNormWithoutRunningStatisticsUsesTheBatchInBothModes() {
        let bn = BatchNorm1d(3, affine: false, trackRunningStats: false)
        let x = random([5, 3], seed: 7, in: -2...4)
        let train = bn(x)
        bn.eval()
        #expect(bn(x).scalars == train.scalars)
        #expect(bn.weight == nil && bn.parameters().isEmpty)
        // [N, C, L] input for BatchNorm1d.
        let seq = BatchNorm1d(3)
        #expect(seq(random([2, 3, 4], seed: 8)).shape == [2, 3, 4])
    }

    /// `eval()` reaches every BatchNorm and Dropout inside a nested model; `train()` reaches them back.
    @Test func evalReachesBatchNormAndDropoutInAModel() {
        manualSeed(9)
        let model = Sequential(Conv2d(2, 4, kernelSize: 3, padding: 1), BatchNorm2d(4), ReLU(), Dropout(0.5),
                               Sequential(Conv2d(4, 4, kernelSize: 1), BatchNorm2d(4), Dropout(0.5)),
                               AdaptiveAvgPool2d(1), Flatten(), BatchNorm1d(4), Linear(4, 3))
        let x = random([6, 2, 5, 5], seed: 10)
        let modes = { model.modules().compactMap { m -> Bool? in (m is BatchNorm || m is Dropout) ? m.isTraining : nil } }
        #expect(modes().count == 5 && modes().allSatisfy { $0 })
        let trainA = model(x).scalars, trainB = model(x).scalars
        #expect(trainA != trainB)   // dropout masks differ, batch statistics are used
        model.eval()
        #expect(modes().allSatisfy { !$0 })
        let evalA = noGrad { model(x).scalars }, evalB = noGrad { model(x).scalars }
        #expect(evalA == evalB)     // deterministic: no dropout, running statistics
        // Evaluation of one sample gives the same row as in the batch (no batch statistics).
        let single = noGrad { model(x[0..<1]).scalars }
        expectClose(single, Array(evalA[0..<3]), atol: 1e-5, "one sample in evaluation")
        model.train()
        #expect(modes().allSatisfy { $0 })
    }
}
