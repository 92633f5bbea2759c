import Foundation
import KilnNN
import Testing

/// A safetensors file from a header's JSON text and the raw data bytes.
private func file(_ header: String, _ data: [UInt8] = []) -> [UInt8] {
    let h = Array(header.utf8)
    return withUnsafeBytes(of: UInt64(h.count).littleEndian) { Array($0) } + h + data
}

private func bytes(of floats: [Float]) -> [UInt8] { floats.withUnsafeBytes { Array($0) } }

/// The reason a parse of `bytes` fails with, or nil when it succeeds.
private func failure(_ bytes: [UInt8]) -> SafeTensorsError.Reason? {
    do {
        _ = try SafeTensors(bytes: bytes, path: "x.safetensors").tensors()
        return nil
    } catch {
        return error.reason
    }
}

private func smallModel(seed: UInt64) -> Sequential {
    let g = RandomGenerator(seed: seed)
    return Sequential(Linear(3, 4, generator: g), ReLU(), Linear(4, 2, generator: g))
}

@Suite struct SafeTensorsFormatTests {
    @Test func writesTheReferenceLayout() throws {
        let bytes = SafeTensors.serialize([("a", Tensor([1, 2], shape: [1, 2]))], metadata: ["k": "v"])
        let header = #"{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}}"#
        var padded = Array(header.utf8)
        while padded.count % 8 != 0 { padded.append(0x20) }  // spaces, as the reference writer pads
        #expect(bytes == file(String(decoding: padded, as: UTF8.self), self.bytesOf([1, 2])))
    }

    private func bytesOf(_ f: [Float]) -> [UInt8] { bytes(of: f) }

    @Test func roundTripKeepsNamesShapesValuesAndMetadata() throws {
        let a = Tensor.uniform([3, 5], generator: RandomGenerator(seed: 1))
        let b = Tensor([7], shape: [])
        let empty = Tensor.zeros([0, 4])
        let bytes = SafeTensors.serialize([("layer.weight", a), ("scalar", b), ("empty", empty)],
                                          metadata: ["format": "pt", "note": "é \"quoted\"\n"])
        let parsed = try SafeTensors(bytes: bytes)
        #expect(parsed.metadata == ["format": "pt", "note": "é \"quoted\"\n"])
        #expect(parsed.entries.map(\.name) == ["layer.weight", "scalar", "empty"])
        #expect(try parsed.tensor(named: "layer.weight").scalars == a.scalars)
        #expect(try parsed.tensor(named: "layer.weight").shape == [3, 5])
        #expect(try parsed.tensor(named: "scalar").shape == [])
        #expect(try parsed.tensor(named: "scalar").item == 7)
        #expect(try parsed.tensor(named: "empty").shape == [0, 4])
        #expect(throws: SafeTensorsError.self) { try parsed.tensor(named: "nope") }
    }

    @Test func integerBuffersAreWrittenAsI64() throws {
        let bytes = SafeTensors.serialize([("n", Tensor([3, -2]))], dtypes: ["n": .I64])
        let parsed = try SafeTensors(bytes: bytes)
        #expect(parsed.entries[0].dtype == .I64)
        #expect(try parsed.tensor(named: "n").scalars == [3, -2])
    }

    @Test func convertsOtherDTypesToFloat32() throws {
        // F16: 1.0 = 0x3C00, -2.5 = 0xC100, smallest subnormal 0x0001 = 2^-24, +inf 0x7C00.
        let f16: [UInt16] = [0x3C00, 0xC100, 0x0001, 0x7C00]
        // BF16 keeps the top 16 bits of a float: 1.5 = 0x3FC0.
        let bf16: [UInt16] = [0x3FC0]
        let f64: [Double] = [0.1, -3]
        let i64: [Int64] = [16_777_216, -5]
        var data = f16.withUnsafeBytes { Array($0) }
        data += bf16.withUnsafeBytes { Array($0) }
        data += f64.withUnsafeBytes { Array($0) }
        data += i64.withUnsafeBytes { Array($0) }
        data += [1, 0]  // BOOL
        let header = """
            {"h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},\
            "b":{"dtype":"BF16","shape":[1],"data_offsets":[8,10]},\
            "d":{"dtype":"F64","shape":[2],"data_offsets":[10,26]},\
            "i":{"dtype":"I64","shape":[2,1],"data_offsets":[26,42]},\
            "z":{"dtype":"BOOL","shape":[2],"data_offsets":[42,44]}}
            """
        let parsed = try SafeTensors(bytes: file(header, data))
        #expect(try parsed.tensor(named: "h").scalars == [1, -2.5, 0x1p-24, .infinity])
        #expect(try parsed.tensor(named: "b").scalars == [1.5])
        #expect(try parsed.tensor(named: "d").scalars == [Float(0.1), -3])
        #expect(try parsed.tensor(named: "i").scalars == [16_777_216, -5])
        #expect(try parsed.tensor(named: "z").scalars == [1, 0])
    }

    @Test func refusesValuesFloat32CannotHold() {
        let big: [Int64] = [16_777_217]
        let header = #"{"i":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#
        #expect(failure(file(header, big.withUnsafeBytes { Array($0) }))
                == .notRepresentable(element: 0, value: "16777217", dtype: .I64))
        let f8 = #"{"q":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}"#
        #expect(failure(file(f8, [0])) == .unsupportedDType("F8_E4M3"))
        let unknown = #"{"q":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}"#
        #expect(failure(file(unknown, [0])) == .unsupportedDType("Q4"))
    }

    @Test func rejectsEveryKindOfMalformedFile() {
        let ok = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        let data = bytes(of: [1, 2])
        #expect(failure(file(ok, data)) == nil)
        // Truncated: shorter than the length field, shorter than the header, shorter than the data.
        #expect(failure([1, 2, 3]) == .truncated(expectedBytes: 8, foundBytes: 3))
        let whole = file(ok, data)
        #expect(failure(Array(whole.prefix(20))) == .truncated(expectedBytes: 8 + ok.utf8.count, foundBytes: 20))
        #expect(failure(Array(whole.dropLast(1))) == .truncated(expectedBytes: whole.count, foundBytes: whole.count - 1))
        // Length field absurd.
        var huge = whole
        huge[7] = 0x7F
        if case .headerTooLarge = failure(huge) {} else { Issue.record("header length not refused") }
        // Not JSON, not UTF-8, not an object, duplicate keys.
        if case .invalidHeader = failure(file("{\"a\":", data)) {} else { Issue.record("bad JSON accepted") }
        if case .invalidHeader = failure(file(ok + "\u{0}", data)) {} else {
            Issue.record("trailing NUL accepted")
        }
        var notUTF8 = file(#"{"ab":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data)
        notUTF8[10] = 0xFF
        if case .invalidHeader = failure(notUTF8) {} else { Issue.record("invalid UTF-8 accepted") }
        if case .invalidHeader = failure(file("[1,2]", data)) {} else { Issue.record("array header accepted") }
        if case .invalidHeader = failure(file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data)) {} else {
            Issue.record("duplicate tensor accepted")
        }
        // Entries.
        if case .invalidHeader = failure(file(#"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data)) {} else {
            Issue.record("negative size accepted")
        }
        if case .invalidHeader = failure(file(#"{"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}"#, data)) {} else {
            Issue.record("fractional size accepted")
        }
        if case .invalidHeader = failure(file(#"{"a":{"dtype":"F32","shape":[2]}}"#, data)) {} else {
            Issue.record("missing offsets accepted")
        }
        if case .invalidHeader = failure(file(#"{"a":{"dtype":"F32","shape":[9999999999,9999999999],"data_offsets":[0,8]}}"#, data)) {} else {
            Issue.record("overflowing shape accepted")
        }
        #expect(failure(file(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data))
                == .byteCountMismatch(shape: [3], dtype: .F32, expectedBytes: 12, foundBytes: 8))
        #expect(failure(file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, data))
                == .offsetsOutOfBounds(begin: 8, end: 0, dataSize: 8))
        // Tiling: a gap, an overlap, data left over.
        #expect(failure(file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data))
                == .notContiguous(expectedOffset: 0, foundOffset: 4))
        #expect(failure(file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data))
                == .notContiguous(expectedOffset: 8, foundOffset: 4))
        #expect(failure(file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data))
                == .dataSizeMismatch(described: 4, found: 8))
        if case .invalidHeader = failure(file(#"{"__metadata__":{"k":1}}"#)) {} else { Issue.record("non-string metadata accepted") }
    }

    @Test func errorsNameTheFileTheTensorAndWhatWasExpected() {
        let error = SafeTensorsError(file: "run/model.safetensors", tensor: "0.weight",
                                     reason: .shapeMismatch(expected: [512, 784], found: [512, 700]))
        #expect(error.description == "run/model.safetensors: tensor '0.weight': expected shape [512, 784], found [512, 700]")
    }
}

@Suite struct ModuleSafeTensorsTests {
    private func tempPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("kiln-st-\(UInt32.random(in: 0...UInt32.max))-\(name)").path
    }

    @Test func saveAndLoadRoundTrip() throws {
        let path = tempPath("m.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let a = smallModel(seed: 1), b = smallModel(seed: 2)
        try a.saveSafeTensors(to: path, metadata: ["epoch": "3"])
        #expect(try b.loadSafeTensors(from: path) == ["epoch": "3"])
        for ((n1, t1), (n2, t2)) in zip(a.stateDict(), b.stateDict()) {
            #expect(n1 == n2)
            #expect(t1.scalars == t2.scalars)
        }
    }

    @Test func batchNormBuffersTravelAsPyTorchStoresThem() throws {
        let bn = BatchNorm2d(3)
        noGrad { _ = bn(Tensor.uniform([2, 3, 4, 4], generator: RandomGenerator(seed: 3))) }
        let file = try SafeTensors(bytes: bn.safeTensorsBytes())
        #expect(file.entry(named: "num_batches_tracked")?.dtype == .I64)
        let other = BatchNorm2d(3)
        try other.loadSafeTensors(file)
        #expect(other.numBatchesTracked.item == 1)
        #expect(other.runningMean.scalars == bn.runningMean.scalars)
    }

    @Test func aBadFileLeavesTheModelUntouchedAndNamesTheProblem() throws {
        let model = smallModel(seed: 1)
        let before = model.stateDict().map { $0.1.scalars }
        func expectFailure(_ bytes: [UInt8], _ expected: SafeTensorsError) {
            do {
                try model.loadSafeTensors(SafeTensors(bytes: bytes, path: "ckpt.safetensors"))
                Issue.record("loaded a bad file")
            } catch {
                #expect(error == expected)
                #expect(error.description.contains("ckpt.safetensors"))
            }
            #expect(model.stateDict().map { $0.1.scalars } == before)
        }
        let other = smallModel(seed: 5).stateDict()
        // Missing tensor: drop the last one.
        expectFailure(SafeTensors.serialize(Array(other.dropLast())),
                      SafeTensorsError(file: "ckpt.safetensors", tensor: "2.bias", reason: .missingTensor))
        // Extra tensor.
        expectFailure(SafeTensors.serialize(other + [("extra", Tensor([1]))]),
                      SafeTensorsError(file: "ckpt.safetensors", tensor: "extra", reason: .unexpectedTensor))
        // Wrong shape on the last tensor: the first tensors must not have been copied.
        var reshaped = other
        reshaped[3] = ("2.bias", Tensor([1, 2, 3]))
        expectFailure(SafeTensors.serialize(reshaped),
                      SafeTensorsError(file: "ckpt.safetensors", tensor: "2.bias",
                                       reason: .shapeMismatch(expected: [2], found: [3])))
        // An I64 tensor Float32 can't hold, last in the file.
        var state = other.map { ($0.0, $0.1) }
        state[3] = ("2.bias", Tensor([1, 16_777_218]))
        expectFailure(SafeTensors.serialize(state, dtypes: ["2.bias": .I64]),
                      SafeTensorsError(file: "ckpt.safetensors", tensor: "2.bias",
                                       reason: .notRepresentable(element: 1, value: "16777218", dtype: .I64)))
    }

    @Test func unwritableDestinationIsAnErrorAndLeavesTheOldFile() throws {
        let path = tempPath("keep.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let model = smallModel(seed: 1)
        try model.saveSafeTensors(to: path)
        let old = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(throws: SafeTensorsError.self) { try model.saveSafeTensors(to: "/nonexistent-dir/x/m.safetensors") }
        #expect(throws: SafeTensorsError.self) { try model.saveSafeTensors(to: path + "/not-a-dir.safetensors") }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == old)
    }

    @Test func fullDiskIsAWriteError() {
        // /dev/full accepts the open and fails every write with ENOSPC.
        do {
            try writeFileSynced([UInt8](repeating: 1, count: 4096), to: "/dev/full")
            Issue.record("write to /dev/full succeeded")
        } catch {
            #expect(error.path == "/dev/full")
            #expect(error.reason.contains("No space left on device"), "\(error)")
        }
    }
}

/// Throws randomly damaged files at the loader: every one must be an error or a valid load.
@Suite struct SafeTensorsFuzzTests {
    @Test func mutatedAndTruncatedFilesNeverCrash() throws {
        let model = Sequential(Linear(3, 4, generator: RandomGenerator(seed: 1)), ReLU(),
                               Linear(4, 2, generator: RandomGenerator(seed: 2)))
        let good = model.safeTensorsBytes(metadata: ["step": "12"])
        let headerLength = Int(good[0]) | Int(good[1]) << 8
        let rng = RandomGenerator(seed: 0xF022)
        let before = model.stateDict().map { $0.1.scalars }
        var tried = 0, rejected = 0, loaded = 0
        for trial in 0..<1500 {
            var bytes = good
            switch trial % 6 {
            case 0:  // truncate anywhere
                bytes = Array(bytes.prefix(rng.nextInt(below: bytes.count)))
            case 1:  // flip 1–8 random bits anywhere
                for _ in 0..<(1 + rng.nextInt(below: 8)) {
                    bytes[rng.nextInt(below: bytes.count)] ^= UInt8(1) << UInt8(rng.nextInt(below: 8))
                }
            case 2:  // overwrite a byte of the header with a JSON-significant character
                let specials = Array("{}[]\":,0123456789-.eE \\u".utf8) + [0, 0xFF, 0xC3]
                bytes[8 + rng.nextInt(below: headerLength)] = specials[rng.nextInt(below: specials.count)]
            case 3:  // damage the length field
                bytes[rng.nextInt(below: 8)] = UInt8(truncatingIfNeeded: rng.next())
            case 4:  // delete or duplicate a run of bytes
                let start = rng.nextInt(below: bytes.count), length = 1 + rng.nextInt(below: 16)
                let end = min(bytes.count, start + length)
                if rng.nextInt(below: 2) == 0 {
                    bytes.removeSubrange(start..<end)
                } else {
                    bytes.insert(contentsOf: bytes[start..<end], at: start)
                }
            default:  // change a digit inside the header (shapes, offsets)
                let digits = (8..<(8 + headerLength)).filter { (48...57).contains(bytes[$0]) }
                let i = digits[rng.nextInt(below: digits.count)]
                bytes[i] = UInt8(48 + rng.nextInt(below: 10))
            }
            tried += 1
            do {
                try model.loadSafeTensors(SafeTensors(bytes: bytes, path: "fuzz-\(trial).safetensors"))
                loaded += 1
                // A valid load means the header still describes the model: restore for the next trial.
                try model.loadSafeTensors(SafeTensors(bytes: good))
            } catch {
                rejected += 1
                #expect(!error.description.isEmpty)
                #expect(model.stateDict().map { $0.1.scalars } == before, "trial \(trial) changed the model: \(error)")
            }
        }
        print("safetensors fuzz: \(tried) damaged files tried, \(rejected) rejected with an error, \(loaded) loaded, 0 crashes")
        #expect(tried >= 1000)
        #expect(rejected + loaded == tried)
    }

    @Test func jsonParserSurvivesDeepNestingAndGarbage() {
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: String(repeating: "[", count: 100_000)) }
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: "{\"a\":1,}") }
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: "01") }
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: "\"\\ud800\"") }
        #expect((try? JSONValue(parsing: " {\"a\" : [1, -2.5e3, true, null, \"\\u00e9\\n\"]} "))?["a"]?.array?.count == 5)
        #expect((try? JSONValue(parsing: "9223372036854775808"))?.int == nil)  // overflows Int: not an integer
        #expect((try? JSONValue(parsing: "-12"))?.int == -12)
    }
}
