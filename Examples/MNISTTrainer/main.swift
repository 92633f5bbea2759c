// A complete MNIST trainer on Kiln's public API: the Keras `mnist_mlp` model, Adam, 10 epochs.
//
//   Scripts/fetch-data.sh --only mnist
//   swift run -c release MNISTTrainer [DATA_DIR]
import Foundation
import Kiln
import KilnData
import KilnNN
import KilnOptim

let dataDir = CommandLine.arguments.dropFirst().first ?? "data"
let mnist: MNIST
do {
    mnist = try MNIST(directory: URL(fileURLWithPath: dataDir))
} catch {
    print("error: \(error)")  // names the missing file and the command that fetches it
    exit(1)
}

manualSeed(1)  // initial weights and dropout masks
let model = Sequential(Linear(784, 512), ReLU(), Dropout(0.2),
                       Linear(512, 512), ReLU(), Dropout(0.2), Linear(512, 10))
let optimizer = Adam(model.parameters(), learningRate: 1e-3)
print("\(model.parameterCount) parameters")

for epoch in 1...10 {
    model.train()
    let start = Date()
    var lossSum: Float = 0, steps = 0
    for batch in mnist.train.loader(batchSize: 128, shuffle: true, seed: UInt64(epoch)) {
        optimizer.zeroGrad()
        let loss = crossEntropy(model(batch.inputs), labels: batch.labels)
        loss.backward()
        optimizer.step()
        lossSum += loss.item
        steps += 1
    }
    let seconds = Date().timeIntervalSince(start)

    model.eval()
    let correct = noGrad {
        mnist.test.batches(size: 1000).reduce(0) { sum, batch in
            let predicted = model(batch.inputs).argmax(axis: 1).scalars
            return sum + zip(predicted, batch.labels).filter { Int32($0) == $1 }.count
        }
    }
    let accuracy = Double(correct) / Double(mnist.test.count)
    print(String(format: "epoch %2d  loss %.4f  test accuracy %.2f%%  %.0f samples/s",
                 epoch, lossSum / Float(steps), accuracy * 100, Double(mnist.train.count) / seconds))
}
