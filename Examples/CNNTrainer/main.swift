// A convolutional network for MNIST (or Fashion-MNIST) on Kiln's public API: PyTorch's MNIST
// example network, trained with Adadelta and a learning rate that decays ×0.7 each epoch.
//
//   Scripts/fetch-data.sh --only mnist
//   swift run -c release CNNTrainer [DATA_DIR] [--fashion]
import Foundation
import Kiln
import KilnData
import KilnNN
import KilnOptim

/// conv 3×3 → ReLU → conv 3×3 → ReLU → max-pool 2×2 → dropout → 9216 → 128 → 10.
final class ConvNet: Module, Layer {
    let conv1 = Conv2d(1, 32, kernelSize: 3)
    let conv2 = Conv2d(32, 64, kernelSize: 3)
    let dropout1 = Dropout(0.25)
    let fc1 = Linear(9216, 128)
    let dropout2 = Dropout(0.5)
    let fc2 = Linear(128, 10)

    func callAsFunction(_ x: Tensor) -> Tensor {   // x: [n, 1, 28, 28]
        var h = conv1(x).relu()                    // [n, 32, 26, 26]
        h = conv2(h).relu()                        // [n, 64, 24, 24]
        h = maxPool2d(h, kernelSize: (2, 2))       // [n, 64, 12, 12]
        h = dropout1(h).flattened(startAxis: 1)    // [n, 9216]
        h = dropout2(fc1(h).relu())                // [n, 128]
        return fc2(h)                              // [n, 10] logits
    }
}

let arguments = CommandLine.arguments.dropFirst()
let dataDir = arguments.first { !$0.hasPrefix("--") } ?? "data"
let variant: MNIST.Variant = arguments.contains("--fashion") ? .fashion : .mnist
let data: MNIST
do {
    data = try MNIST(directory: URL(fileURLWithPath: dataDir), variant: variant)
} catch {
    print("error: \(error)")
    exit(1)
}

manualSeed(1)
let model = ConvNet()
let optimizer = Adadelta(model.parameters(), learningRate: 1.0)
print("\(model.parameterCount) parameters")

for epoch in 1...3 {
    optimizer.learningRate = 1.0 * pow(0.7, Float(epoch - 1))
    model.train()
    let start = Date()
    for batch in data.train.loader(batchSize: 64, shuffle: true, seed: UInt64(epoch), layout: .shaped) {
        optimizer.zeroGrad()
        let loss = crossEntropy(model(batch.inputs), labels: batch.labels)
        loss.backward()
        optimizer.step()
    }
    let seconds = Date().timeIntervalSince(start)

    model.eval()
    let correct = noGrad {
        data.test.batches(size: 500, layout: .shaped).reduce(0) { sum, batch in
            let predicted = model(batch.inputs).argmax(axis: 1).scalars
            return sum + zip(predicted, batch.labels).filter { Int32($0) == $1 }.count
        }
    }
    print(String(format: "epoch %d  test accuracy %.2f%%  %.0f samples/s", epoch,
                 100 * Double(correct) / Double(data.test.count), Double(data.train.count) / seconds))
}
