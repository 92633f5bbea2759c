import Foundation
import KilnData
import Testing

@Suite("IDX reader")
struct IDXTests {
    @Test("reads a hand-written images file: big-endian sizes, raw bytes")
    func readsHandWrittenFile() throws {
        let folder = try TemporaryFolder()
        // Magic 0x00000803, sizes 2, 1, 258 (258 = 0x0102 checks the byte order), then 516 bytes.
        let header: [UInt8] = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 1, 2]
        let payload = (0..<516).map { UInt8($0 % 251) }
        let url = try folder.write(header + payload, to: "images")
        let array = try IDX.read(url, magic: IDX.imagesMagic)
        #expect(array.shape == [2, 1, 258])
        #expect(array.bytes == payload)
    }

    @Test("reads a labels file")
    func readsLabels() throws {
        let folder = try TemporaryFolder()
        let url = try folder.write([0, 0, 8, 1, 0, 0, 0, 3, 7, 0, 255], to: "labels")
        let array = try IDX.read(url, magic: IDX.labelsMagic)
        #expect(array.shape == [3])
        #expect(array.bytes == [7, 0, 255])
    }

    @Test("an empty array (0 images) is valid")
    func readsEmptyArray() throws {
        let array = try IDX.decode(idxFile(magic: IDX.imagesMagic, shape: [0, 28, 28], payload: []),
                                   magic: IDX.imagesMagic, path: "empty")
        #expect(array.shape == [0, 28, 28])
        #expect(array.bytes.isEmpty)
    }

    @Test("a truncated payload is an error naming the file and both lengths")
    func truncatedPayload() throws {
        let folder = try TemporaryFolder()
        // 2 images of 2×2 need 16 + 8 bytes; the file has 16 + 7.
        let url = try folder.write(idxFile(magic: IDX.imagesMagic, shape: [2, 2, 2], payload: Array(repeating: 1, count: 7)),
                                   to: "short-images")
        let error = datasetError { try IDX.read(url, magic: IDX.imagesMagic) }
        #expect(error == .truncatedFile(path: url.path, expectedBytes: 24, actualBytes: 23))
        #expect(error?.description.contains(url.path) == true)
        #expect(error?.description.contains("24") == true)
        #expect(error?.description.contains("23") == true)
    }

    @Test("a truncated header is an error")
    func truncatedHeader() throws {
        #expect(datasetError { try IDX.decode([0, 0], magic: IDX.labelsMagic, path: "f") }
                == .truncatedFile(path: "f", expectedBytes: 4, actualBytes: 2))
        // The magic is there but the 3 sizes are not (16 header bytes, 10 present).
        #expect(datasetError { try IDX.decode([0, 0, 8, 3, 0, 0, 0, 1, 0, 0], magic: IDX.imagesMagic, path: "f") }
                == .truncatedFile(path: "f", expectedBytes: 16, actualBytes: 10))
    }

    @Test("trailing bytes after the payload are an error")
    func trailingBytes() throws {
        let folder = try TemporaryFolder()
        let url = try folder.write(idxLabels([1, 2, 3]) + [0xFF, 0xFF], to: "labels-with-garbage")
        let error = datasetError { try IDX.read(url, magic: IDX.labelsMagic) }
        #expect(error == .trailingBytes(path: url.path, expectedBytes: 11, actualBytes: 13))
        #expect(error?.description.contains(url.path) == true)
        #expect(error?.description.contains("2 unexpected trailing bytes") == true)
    }

    @Test("a labels file read as images has a bad magic number")
    func badMagic() throws {
        let folder = try TemporaryFolder()
        let url = try folder.write(idxLabels([1, 2]), to: "labels")
        let error = datasetError { try IDX.read(url, magic: IDX.imagesMagic) }
        #expect(error == .badMagic(path: url.path, expected: 0x0000_0803, found: 0x0000_0801))
        let message = error?.description ?? ""
        #expect(message.contains(url.path))
        #expect(message.contains("expected 0x00000803 (unsigned bytes, 3 dimensions)"))
        #expect(message.contains("found 0x00000801 (unsigned bytes, 1 dimension)"))
    }

    @Test("a file with the wrong number of dimensions or not IDX at all is rejected by its magic")
    func wrongDimensionCount() throws {
        let fourD = idxFile(magic: 0x0000_0804, shape: [1, 1, 2, 2], payload: [1, 2, 3, 4])
        let error = datasetError { try IDX.decode(fourD, magic: IDX.imagesMagic, path: "four-d") }
        #expect(error == .badMagic(path: "four-d", expected: 0x0000_0803, found: 0x0000_0804))
        #expect(error?.description.contains("4 dimensions") == true)

        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        let notIDX = datasetError { try IDX.decode(png, magic: IDX.imagesMagic, path: "picture.png") }
        #expect(notIDX == .badMagic(path: "picture.png", expected: 0x0000_0803, found: 0x8950_4E47))
        #expect(notIDX?.description.contains("0x89504e47 (not an IDX file)") == true)
    }

    @Test("sizes whose product overflows are reported as a truncated file, not a crash")
    func overflowingSizes() throws {
        let huge = idxFile(magic: IDX.imagesMagic, shape: [0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF], payload: [1])
        #expect(datasetError { try IDX.decode(huge, magic: IDX.imagesMagic, path: "huge") }
                == .truncatedFile(path: "huge", expectedBytes: Int.max, actualBytes: 17))
    }

    @Test("a missing file names the path and the fetch script")
    func missingFile() throws {
        let folder = try TemporaryFolder()
        let url = folder.url.appendingPathComponent("nowhere-idx3-ubyte")
        let error = datasetError { try IDX.read(url, magic: IDX.imagesMagic) }
        #expect(error == .missingFile(path: url.path, fetchCommand: "Scripts/fetch-data.sh"))
        #expect(error?.description.contains(url.path) == true)
        #expect(error?.description.contains("Scripts/fetch-data.sh") == true)
    }

    @Test("a folder where a file is expected is unreadable")
    func folderInsteadOfFile() throws {
        let folder = try TemporaryFolder()
        let error = datasetError { try IDX.read(folder.url, magic: IDX.imagesMagic) }
        guard case .unreadableFile(let path, _) = error else {
            Issue.record("expected .unreadableFile, got \(String(describing: error))")
            return
        }
        #expect(path == folder.url.path)
        #expect(error?.path == folder.url.path)
    }
}
