import Foundation
import KilnData
import Testing

/// The data folder `Scripts/fetch-data.sh` fills: `$KILN_DATA_DIR`, else `data/` in the repository.
let dataFolder: URL = {
    if let custom = ProcessInfo.processInfo.environment["KILN_DATA_DIR"], !custom.isEmpty {
        return URL(fileURLWithPath: custom, isDirectory: true)
    }
    return repositoryRoot.appendingPathComponent("data", isDirectory: true)
}()

/// Whether all four files of `variant` are in the data folder; prints why a test is skipped.
func hasFetched(_ variant: MNIST.Variant) -> Bool {
    let folder = dataFolder.appendingPathComponent(variant.folderName)
    let present = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
        .allSatisfy { FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path) }
    if !present {
        print("note: \(folder.path) is absent: skipping the \(variant.folderName) known-facts test "
              + "(run `\(variant.fetchCommand)` to enable it)")
    }
    return present
}

/// Checks the loaders against facts about the real files (DATASETS.md); runs only after
/// `Scripts/fetch-data.sh` has fetched them.
@Suite("Real datasets (when fetched)")
struct RealDataTests {
    @Test("MNIST: counts, label counts, first labels, pixel statistics", .enabled(if: hasFetched(.mnist)))
    func mnistFacts() throws {
        let mnist = try MNIST(directory: dataFolder)
        #expect(mnist.train.count == 60000)
        #expect(mnist.test.count == 10000)
        #expect(mnist.train.sampleShape == [1, 28, 28])
        #expect(mnist.train.labelCounts() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
        #expect(Array(mnist.train.labels.prefix(10)) == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
        #expect(Array(mnist.test.labels.prefix(10)) == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])

        // Normalised with the train statistics (0.1307, 0.3081), the train pixels have mean ≈ 0
        // and standard deviation ≈ 1: the raw mean is 33.318 / 255 = 0.13066.
        var sum = 0.0, sumOfSquares = 0.0
        for batch in mnist.train.batches(size: 10000) {
            batch.inputs.withUnsafeBufferPointer { values in
                for v in values {
                    sum += Double(v)
                    sumOfSquares += Double(v) * Double(v)
                }
            }
        }
        let n = Double(60000 * 784)
        let mean = sum / n
        let std = (sumOfSquares / n - mean * mean).squareRoot()
        #expect(abs(mean * 0.3081 + 0.1307 - 33.318 / 255) < 1e-4)
        #expect(abs(std - 1) < 1e-3)
    }

    @Test("Fashion-MNIST: 6000 per class in train, 1000 in test, first labels 9 0 0 3",
          .enabled(if: hasFetched(.fashion)))
    func fashionFacts() throws {
        let fashion = try MNIST.fashion(directory: dataFolder)
        #expect(fashion.train.labelCounts() == Array(repeating: 6000, count: 10))
        #expect(fashion.test.labelCounts() == Array(repeating: 1000, count: 10))
        #expect(Array(fashion.train.labels.prefix(4)) == [9, 0, 0, 3])
        #expect(fashion.test.sampleShape == [1, 28, 28])
    }
}
