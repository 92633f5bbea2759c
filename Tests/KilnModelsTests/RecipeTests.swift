import Foundation
import Testing
@testable import KilnModels
import KilnData
import Kiln
import KilnNN
import KilnOptim

/// Which augmentation each example trainer applies, and how a run names it.
@Suite struct RecipeTests {
    private func config(augment: Bool = true) -> TrainingConfig {
        TrainingConfig(epochs: 1, batchSize: 8, learningRate: 0.01, optimizer: .sgd, seed: 1, augment: augment)
    }

    @Test func theDigitCNNShiftsAndResNetCropsAndFlipsCIFAROnly() {
        let cnn = TrainableModel.mnistCNN.recipe, fashion = TrainableModel.fashionCNN.recipe
        let resnet = TrainableModel.resnet20.recipe, mlp = TrainableModel.mnistMLP.recipe
        #expect(cnn.augmentation(on: .mnist, config()) == .randomCrop(padding: 2))
        #expect(fashion.augmentation(on: .fashionMNIST, config()) == nil)
        #expect(resnet.augmentation(on: .cifar10, config()) == .cropAndFlip(padding: 4))
        #expect(resnet.augmentation(on: .fashionMNIST, config()) == nil)
        #expect(mlp.augmentation(on: .mnist, config()) == nil)
        // Switched off, none of them augments.
        for recipe in [cnn, fashion, resnet, mlp] {
            for dataset in DatasetChoice.allCases { #expect(recipe.augmentation(on: dataset, config(augment: false)) == nil) }
        }
    }

    @Test func theTrainerGetsTheRecipesAugmentation() {
        let recipe = TrainableModel.mnistCNN.recipe
        let on = makeClassifierTrainer(recipe: recipe, dataset: .mnist, config: config(), trainCount: 64)
        let off = makeClassifierTrainer(recipe: recipe, dataset: .mnist, config: config(augment: false), trainCount: 64)
        #expect(on.augmentation == .randomCrop(padding: 2))
        #expect(off.augmentation == nil)
    }

    @Test func augmentationsDescribeThemselves() {
        #expect(Augmentation.randomCrop(padding: 2).description == "random crop (padding 2)")
        #expect(Augmentation.cropAndFlip(padding: 4).description == "random crop (padding 4), horizontal flip (p 0.5)")
        #expect(Augmentation.cropAndFlip(padding: 1, size: 24, flipProbability: 0.25).description
            == "random crop 24×24 (padding 1), horizontal flip (p 0.25)")
        #expect(Augmentation.horizontalFlip(probability: 1).description == "horizontal flip (p 1.0)")
        #expect(Augmentation().description == "none")
    }
}

/// The trainer minimises the smoothed loss the recipe asks for.
@Suite struct LabelSmoothingTrainingTests {
    @Test func mnistCNNSmoothsItsLabelsAndTheTrainerTakesTheConfigs() {
        #expect(TrainableModel.mnistCNN.recipe.labelSmoothing == 0.1)
        #expect(TrainableModel.fashionCNN.recipe.labelSmoothing == 0)
        #expect(TrainableModel.resnet20.recipe.labelSmoothing == 0)
        let config = TrainingConfig(epochs: 1, batchSize: 8, learningRate: 0.01, optimizer: .sgd, seed: 1,
                                    labelSmoothing: 0.25)
        let trainer = makeClassifierTrainer(recipe: TrainableModel.mnistCNN.recipe, dataset: .mnist, config: config,
                                            trainCount: 64)
        #expect(trainer.labelSmoothing == 0.25)
    }

    @Test func aStepReturnsAndDifferentiatesTheSmoothedLoss() {
        // Hand-computed: logits [2, 0, 0] for label 0, ε = 0.3 over 3 classes:
        // log-softmax = [2, 0, 0] − log(e² + 2); loss = −(0.8·lsm₀ + 0.1·lsm₁ + 0.1·lsm₂).
        let logZ = Float(log(exp(2.0) + 2.0))
        let expected = -(0.8 * (2 - logZ) + 0.1 * -logZ + 0.1 * -logZ)
        let layer = Linear(1, 3, generator: RandomGenerator(seed: 1))
        layer.weight.assign(Tensor([2, 0, 0], shape: [3, 1]))
        layer.bias!.assign(Tensor([0, 0, 0]))
        let trainer = ClassifierTrainer(model: layer, optimizer: SGD(layer.parameters(), learningRate: 0),
                                        batchSize: 1, seed: 1, labelSmoothing: 0.3)
        let data = LabeledDataset(features: [1], labels: [0], sampleShape: [1], classCount: 3)
        let batch = data.batches(size: 1)[0]
        let loss = trainer.computeGradients(batch)
        #expect(abs(loss - expected) < 1e-6)
        // d loss / d logits = softmax − target, target = [0.8, 0.1, 0.1]; the weight's gradient is that times x = 1.
        let p0 = Float(exp(2.0)) / Float(exp(2.0) + 2), p1 = 1 / Float(exp(2.0) + 2)
        let grad = layer.weight.grad!.scalars
        #expect(abs(grad[0] - (p0 - 0.8)) < 1e-6 && abs(grad[1] - (p1 - 0.1)) < 1e-6 && abs(grad[2] - (p1 - 0.1)) < 1e-6)
    }
}
