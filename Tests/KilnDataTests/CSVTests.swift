import Foundation
import KilnData
import Testing

@Suite("CSV reader and digits")
struct CSVTests {
    @Test("reads features and labels; CRLF, spaces and blank lines are tolerated")
    func readsTable() throws {
        let folder = try TemporaryFolder()
        let url = try folder.write("1,2,3,4,0\r\n0.5, -1.25 ,1e2,8,2\n\n16,0,0,0,1\n\n", to: "table.csv")
        let table = try LabeledDataset.csv(url, featureCount: 4, classCount: 3)
        #expect(table.count == 3)
        #expect(table.sampleShape == [4])
        #expect(table.labels == [0, 2, 1])
        #expect(table.features(at: 0) == [1, 2, 3, 4])
        #expect(table.features(at: 1) == [0.5, -1.25, 100, 8])
        #expect(table.features(at: 2) == [16, 0, 0, 0])
    }

    @Test("header lines are skipped and features scaled; line numbers still count them")
    func headerAndScale() throws {
        let folder = try TemporaryFolder()
        let url = try folder.write("150,4,setosa,versicolor,virginica\n8,4,2,6,2\n", to: "iris-like.csv")
        let table = try LabeledDataset.csv(url, featureCount: 4, classCount: 3, sampleShape: [2, 2],
                                           headerLines: 1, featureScale: 0.5)
        #expect(table.features(at: 0) == [4, 2, 1, 3])
        #expect(table.labels == [2])
        #expect(table.sampleShape == [2, 2])

        let bad = try folder.write("a,b,c\n1,2\n", to: "bad.csv")
        #expect(datasetError { try LabeledDataset.csv(bad, featureCount: 2, classCount: 3, headerLines: 1) }
                == .wrongColumnCount(path: bad.path, line: 2, expected: 3, found: 2))
    }

    @Test("a row with the wrong number of columns names the file and line")
    func wrongColumnCount() throws {
        let folder = try TemporaryFolder()
        let url = try folder.write("1,2,3,0\n4,5,6,1\n7,8,1\n", to: "short-row.csv")
        let error = datasetError { try LabeledDataset.csv(url, featureCount: 3, classCount: 2) }
        #expect(error == .wrongColumnCount(path: url.path, line: 3, expected: 4, found: 3))
        #expect(error?.description.contains("\(url.path):3") == true)
        #expect(error?.description.contains("expected 4") == true)

        let long = try folder.write("1,2,3,4,0\n", to: "long-row.csv")
        #expect(datasetError { try LabeledDataset.csv(long, featureCount: 3, classCount: 2) }
                == .wrongColumnCount(path: long.path, line: 1, expected: 4, found: 5))
    }

    @Test("a field that is not a number names the file, line and column")
    func badValue() throws {
        let folder = try TemporaryFolder()
        let url = try folder.write("1,2,0\n3,x4,1\n", to: "bad-value.csv")
        let error = datasetError { try LabeledDataset.csv(url, featureCount: 2, classCount: 2) }
        #expect(error == .badValue(path: url.path, line: 2, column: 2, text: "x4", expected: "a finite number"))
        #expect(error?.description.contains(url.path) == true)
        #expect(error?.description.contains("column 2") == true)

        let nan = try folder.write("nan,1,0\n", to: "nan.csv")
        #expect(datasetError { try LabeledDataset.csv(nan, featureCount: 2, classCount: 2) }
                == .badValue(path: nan.path, line: 1, column: 1, text: "nan", expected: "a finite number"))
        let empty = try folder.write("1,,0\n", to: "empty-field.csv")
        #expect(datasetError { try LabeledDataset.csv(empty, featureCount: 2, classCount: 2) }
                == .badValue(path: empty.path, line: 1, column: 2, text: "", expected: "a finite number"))
    }

    @Test("labels must be integers in 0..<classCount")
    func badLabels() throws {
        let folder = try TemporaryFolder()
        let expected = "an integer class label in 0..<3"
        for (text, name) in [("3", "too-big"), ("-1", "negative"), ("1.5", "fraction"), ("one", "word")] {
            let url = try folder.write("1,2,0\n1,2,\(text)\n", to: "\(name).csv")
            #expect(datasetError { try LabeledDataset.csv(url, featureCount: 2, classCount: 3) }
                    == .badValue(path: url.path, line: 2, column: 3, text: text, expected: expected))
        }
    }

    @Test("an empty file and a missing file are errors naming the file")
    func emptyAndMissing() throws {
        let folder = try TemporaryFolder()
        let empty = try folder.write("\n\n", to: "empty.csv")
        #expect(datasetError { try LabeledDataset.csv(empty, featureCount: 2, classCount: 2) } == .empty(path: empty.path))
        let missing = folder.url.appendingPathComponent("digits.csv")
        let error = datasetError { try Digits.load(csv: missing) }
        #expect(error == .missingFile(path: missing.path, fetchCommand: "Scripts/fetch-data.sh --only digits"))
        #expect(error?.description.contains(missing.path) == true)
    }

    @Test("the committed digits fixture: 1797 samples, known class counts and first row")
    func digitsFixture() throws {
        let url = repositoryRoot.appendingPathComponent("Tests/KilnModelsTests/Fixtures/digits.csv")
        let digits = try Digits.load(csv: url)
        #expect(digits.count == Digits.sampleCount)
        #expect(digits.sampleShape == [1, 8, 8])
        #expect(digits.classCount == 10)
        #expect(digits.labelCounts() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
        #expect(Array(digits.labels.prefix(10)) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        // The first image's first row of pixels is 0 0 5 13 9 1 0 0, scaled by 1/16.
        #expect(Array(digits.features(at: 0).prefix(8)) == [0, 0, 5, 13, 9, 1, 0, 0].map { Float($0) / 16 })
        let raw = try Digits.load(csv: url, scale: 1)
        #expect(raw.features(at: 0).max() == 15)
        #expect(raw.features(at: 1796).reduce(0, +) == digits.features(at: 1796).reduce(0, +) * 16)
    }
}
