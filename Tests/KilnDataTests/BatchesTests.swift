import Kiln
import KilnData
import Testing

/// 10 samples of 3 features: sample i is [10i, 10i + 1, 10i + 2], label i % 4.
func countingDataset(count: Int = 10) -> LabeledDataset {
    let features = (0..<count).flatMap { i in (0..<3).map { Float(10 * i + $0) } }
    let labels = (0..<count).map { Int32($0 % 4) }
    return LabeledDataset(features: features, labels: labels, sampleShape: [3], classCount: 4)
}

@Suite("Batches and shuffling")
struct BatchesTests {
    @Test("in order: full batches, then the partial last one")
    func inOrder() {
        let batches = countingDataset().batches(size: 4)
        #expect(batches.count == 3)
        #expect(batches.map(\.count) == [4, 4, 2])
        let last = batches[2]
        #expect(last.indices == [8, 9])
        #expect(last.labels == [0, 1])
        #expect(last.inputs.shape == [2, 3])
        #expect(last.inputs.scalars == [80, 81, 82, 90, 91, 92])
        #expect(batches[0].inputs.scalars == [0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32])
        #expect(batches[0].labels == [0, 1, 2, 3])
    }

    @Test("dropLast leaves out the partial batch; an exact fit has none to drop")
    func dropLast() {
        let dataset = countingDataset()
        #expect(dataset.batches(size: 4, dropLast: true).map(\.count) == [4, 4])
        #expect(dataset.batches(size: 5, dropLast: true).map(\.count) == [5, 5])
        #expect(dataset.batches(size: 5).map(\.count) == [5, 5])
        #expect(dataset.batches(size: 11, dropLast: true).isEmpty)
        #expect(dataset.batches(size: 11).map(\.count) == [10])
    }

    @Test("shuffling visits every sample exactly once")
    func shuffleIsPermutation() {
        let dataset = countingDataset(count: 103)
        let batches = dataset.batches(size: 16, shuffle: true, seed: 42)
        let visited = batches.flatMap(\.indices)
        #expect(visited.count == 103)
        #expect(visited.sorted() == Array(0..<103))
        #expect(visited != Array(0..<103))
        // Rows and labels follow the indices.
        for batch in batches {
            let rows = batch.inputs.scalars
            for (r, i) in batch.indices.enumerated() {
                #expect(Array(rows[3 * r..<3 * r + 3]) == [Float(10 * i), Float(10 * i + 1), Float(10 * i + 2)])
                #expect(batch.labels[r] == Int32(i % 4))
            }
        }
    }

    @Test("the same seed gives the same order; another seed another order")
    func seededOrder() {
        let dataset = countingDataset(count: 50)
        let a = dataset.batches(size: 7, shuffle: true, seed: 1).order
        let b = dataset.batches(size: 7, shuffle: true, seed: 1).order
        let c = dataset.batches(size: 7, shuffle: true, seed: 2).order
        #expect(a == b)
        #expect(a != c)
        // The order is the Kiln generator's permutation, so it is the same on every machine.
        #expect(a == RandomGenerator(seed: 1).permutation(50))
        #expect(dataset.batches(size: 7, seed: 1).order == Array(0..<50))
    }

    @Test("shaped layout gives [n] + sampleShape, with the same values as flat")
    func shapedLayout() throws {
        let folder = try TemporaryFolder()
        try TinyMNIST.write(in: folder)
        let mnist = try MNIST(directory: folder.url, normalization: .unitInterval)
        let shaped = mnist.train.batches(size: 2, layout: .shaped)
        let flat = mnist.train.batches(size: 2)
        #expect(shaped[0].inputs.shape == [2, 1, 2, 2])
        #expect(flat[0].inputs.shape == [2, 4])
        #expect(shaped[1].inputs.shape == [1, 1, 2, 2])
        #expect(shaped[0].inputs.scalars == flat[0].inputs.scalars)
        // Image 1 is [255, 0, 0, 51] → x / 255.
        #expect(isClose(Array(flat[0].inputs.scalars[4...]), [1, 0, 0, 0.2]))
        #expect(flat[1].labels == [9])
    }

    @Test("subset, prefix and label counts")
    func subsetPrefixCounts() throws {
        let dataset = countingDataset()
        #expect(dataset.labelCounts() == [3, 3, 2, 2])
        let picked = dataset.subset([9, 0, 9])
        #expect(picked.count == 3)
        #expect(picked.labels == [1, 0, 1])
        #expect(picked.features(at: 0) == [90, 91, 92])
        #expect(picked.features(at: 1) == [0, 1, 2])
        #expect(dataset.prefix(2).labels == [0, 1])
        #expect(dataset.prefix(99).count == 10)

        // A byte-backed dataset keeps its normalisation through subset.
        let folder = try TemporaryFolder()
        try TinyMNIST.write(in: folder)
        let train = try MNIST(directory: folder.url, normalization: .unitInterval).train
        #expect(isClose(train.subset([1]).features(at: 0), [1, 0, 0, 0.2]))
        #expect(train.subset(2..<3).labels == [9])
    }

    @Test("an empty dataset has no batches")
    func emptyDataset() {
        let empty = LabeledDataset(features: [], labels: [], sampleShape: [3], classCount: 2)
        #expect(empty.batches(size: 4, shuffle: true, seed: 9).isEmpty)
    }
}
