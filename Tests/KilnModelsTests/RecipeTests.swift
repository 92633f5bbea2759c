import Testing
@testable import KilnModels
import KilnData

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
