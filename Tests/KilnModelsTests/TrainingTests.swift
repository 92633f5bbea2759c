import Foundation
import Testing
@testable import KilnModels
import KilnData
import KilnNN
import KilnOptim

/// The digits data (1797 real 8×8 handwritten digits) shipped as a fixture: train on 1500, test on 297.
private func digits() throws -> (train: LabeledDataset, test: LabeledDataset) {
    let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("digits.csv")
    let all = try Digits.load(csv: url)
    let order = RandomGenerator(seed: 7).permutation(all.count)
    return (all.subset(order.prefix(1500)), all.subset(order.dropFirst(1500)))
}

private func digitsMLP(_ generator: RandomGenerator) -> Sequential {
    Sequential(Linear(64, 128, generator: generator), ReLU(), Dropout(0.1, generator: generator),
               Linear(128, 10, generator: generator))
}

private func train(seed: UInt64, epochs: Int) throws -> (reports: [EpochReport], trainer: ClassifierTrainer) {
    let (trainSet, testSet) = try digits()
    let generator = RandomGenerator(seed: seed)
    let model = digitsMLP(generator)
    let trainer = ClassifierTrainer(model: model, optimizer: Adam(model.parameters(), learningRate: 3e-3),
                                    batchSize: 32, seed: seed)
    return (trainer.fit(train: trainSet, test: testSet, epochs: epochs), trainer)
}

@Test func mlpLearnsRealDigits() throws {
    let (reports, _) = try train(seed: 1, epochs: 20)
    // A linear model reaches ~95% here; the MLP must do at least as well on held-out digits.
    #expect(reports.last!.testAccuracy >= 0.95, "test accuracy \(reports.last!.testAccuracy)")
    #expect(reports.last!.trainLoss < reports.first!.trainLoss / 2)
}

@Test func sameSeedGivesIdenticalLosses() throws {
    let a = try train(seed: 3, epochs: 2).reports
    let b = try train(seed: 3, epochs: 2).reports
    let c = try train(seed: 4, epochs: 2).reports
    #expect(a.map(\.trainLoss) == b.map(\.trainLoss))
    #expect(a.map(\.testLoss) == b.map(\.testLoss))
    #expect(a.map(\.trainLoss) != c.map(\.trainLoss))
}

@Test func evaluateCountsCorrectPredictions() throws {
    // A fixed linear model on six one-feature samples: predictions and loss by hand.
    let labels: [Int32] = [0, 1, 1, 0, 1, 2]
    let data = LabeledDataset(features: [0, 1, 2, 0, 1, 2], labels: labels, sampleShape: [1], classCount: 3)
    // Linear(1, 3) with weight [[-1], [0], [1]] and bias [1, 0, -1]: logits for x = 0, 1, 2
    // are [1, 0, -1], [0, 0, 0], [-1, 0, 1] → argmax 0, 0 (first of ties), 2.
    let layer = Linear(1, 3)
    layer.weight.assign(Tensor([-1, 0, 1], shape: [3, 1]))
    layer.bias!.assign(Tensor([1, 0, -1]))
    let trainer = ClassifierTrainer(model: layer, optimizer: SGD(layer.parameters(), learningRate: 0.1),
                                    batchSize: 4, seed: 0)
    let (loss, accuracy) = trainer.evaluate(data)
    // predictions 0, 0, 2, 0, 0, 2 vs labels 0, 1, 1, 0, 1, 2 → 3 of 6 correct
    #expect(accuracy == 0.5)
    // loss: mean over samples of logsumexp(logits) - logit[label]
    let lse1 = Float(Foundation.log(Foundation.exp(1.0) + 1 + Foundation.exp(-1.0)))
    let lse0 = Float(Foundation.log(3.0))
    let perSample: [Float] = [lse1 - 1, lse0 - 0, lse1 - 0, lse1 - 1, lse0 - 0, lse1 - 1]
    #expect(Swift.abs(loss - perSample.reduce(0, +) / 6) < 1e-5)
}

@Test func mlpWorkloadMatchesTheReferenceShape() {
    let model = makeMLP()
    #expect(model.parameterCount == 669_706)
    #expect(model.namedParameters().map(\.0) == ["0.weight", "0.bias", "3.weight", "3.bias", "6.weight", "6.bias"])
    // BENCHMARKS.md: 4.01 M training FLOPs per sample.
    #expect(Swift.abs(BenchWorkload.mlp.flopsPerUnit - 4.01e6) < 0.01e6)
}

@Test func benchResultStatistics() {
    let r = BenchResult(workload: "x", unit: "samples", threads: 1, batchSize: 10, unitsPerStep: 10, flopsPerUnit: 1e6,
                        stepSeconds: [0.004, 0.001, 0.002, 0.003, 0.005], sgemmPeakGFLOPS: 10, peakResidentBytes: 0)
    #expect(Swift.abs(r.medianMilliseconds - 3) < 1e-9)
    #expect(Swift.abs(r.stepMilliseconds(quantile: 0.1) - 1.4) < 1e-9)
    #expect(Swift.abs(r.unitsPerSecond - 10 / 0.003) < 1e-6)
    #expect(Swift.abs(r.gflops - (10 / 0.003) * 1e6 / 1e9) < 1e-9)
    #expect(Swift.abs(r.peakFraction - r.gflops / 10) < 1e-12)
}

@Test func jsonEscapesAndOrdersFields() {
    var o = JSONObject()
    o.add("name", "a\"b\\c\n")
    o.add("n", 3)
    o.add("x", Double.nan)
    #expect(o.description == #"{"name": "a\"b\\c\n", "n": 3, "x": null}"#)
}

@Test func atomicWriteReplacesWholeFileAndReportsFailures() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-atomic-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("report.json").path
    try writeFileAtomically(Array("old".utf8), to: path)
    try writeFileAtomically(Array("new contents".utf8), to: path)
    #expect(try String(contentsOfFile: path, encoding: .utf8) == "new contents")
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["report.json"])  // no temp left
    #expect(throws: FileWriteError.self) { try writeFileAtomically([1], to: dir.path + "/missing/sub/file") }
}
