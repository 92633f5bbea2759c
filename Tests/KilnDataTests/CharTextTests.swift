import Foundation
import Kiln
import Testing
@testable import KilnData

@Suite struct CharTextTests {
    @Test func vocabularyIsSortedAndRoundTrips() {
        let v = CharVocabulary(text: "hello, world\n")
        #expect(v.symbols.map { String($0) } == ["\n", " ", ",", "d", "e", "h", "l", "o", "r", "w"])
        let ids = v.encode("hello")!
        #expect(ids == [5, 4, 6, 6, 7])
        #expect(v.decode(ids) == "hello")
        #expect(v.encode("help") == nil)
        #expect(v.firstUnknown(in: "help") == "p")
    }

    @Test func splitIsNinetyTen() {
        let text = String(repeating: "abcdefghij", count: 10)  // 100 symbols
        let d = CharTextDataset(text: text)
        #expect(d.train.count == 90 && d.validation.count == 10)
        #expect(d.vocabulary.decode(d.train + d.validation) == text)
        #expect(d.vocabulary.count == 10)
    }

    @Test func windowsAreShiftedBySeededAndInRange() {
        let text = (0..<500).map { i in String(UnicodeScalar(UInt8(65 + i % 26))) }.joined()
        let d = CharTextDataset(text: text)
        let a = d.batch(.train, batchSize: 4, contextLength: 16, generator: RandomGenerator(seed: 1))
        let b = d.batch(.train, batchSize: 4, contextLength: 16, generator: RandomGenerator(seed: 1))
        let c = d.batch(.train, batchSize: 4, contextLength: 16, generator: RandomGenerator(seed: 2))
        #expect(a.inputs == b.inputs && a.targets == b.targets)
        #expect(a.inputs != c.inputs)
        for row in 0..<4 {
            let x = Array(a.inputs[(row * 16)..<(row * 16 + 16)]), y = Array(a.targets[(row * 16)..<(row * 16 + 16)])
            #expect(Array(x.dropFirst()) == Array(y.dropLast()))
            // each window is a contiguous piece of the training text
            let s = d.vocabulary.decode(x + [y.last!])
            #expect(d.vocabulary.decode(d.train).contains(s))
        }
    }

    @Test func loadReportsMissingEmptyAndInvalidFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-text-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = dir.appendingPathComponent("none.txt")
        #expect(throws: DatasetError.missingFile(path: missing.path, fetchCommand: "Scripts/fetch-data.sh --only shakespeare")) {
            try CharTextDataset.load(file: missing)
        }
        let bad = dir.appendingPathComponent("bad.txt")
        try Data([0x61, 0xFF, 0xFE, 0x62]).write(to: bad)
        #expect(throws: DatasetError.unreadableFile(path: bad.path, reason: "not valid UTF-8 text")) {
            try CharTextDataset.load(file: bad)
        }
        let empty = dir.appendingPathComponent("empty.txt")
        try Data().write(to: empty)
        #expect(throws: DatasetError.empty(path: empty.path)) { try CharTextDataset.load(file: empty) }
        let good = dir.appendingPathComponent("good.txt")
        try Data("First Citizen:\nBefore we proceed".utf8).write(to: good)
        let d = try CharTextDataset.load(file: good, maxCharacters: 14)
        #expect(d.vocabulary.decode(d.train + d.validation) == "First Citizen:")
    }
}
