#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KilnNN
import KilnOptim

/// A directory of training checkpoints, one sub-directory per saved step:
///
/// ```
/// DIR/step-00000500/model.safetensors      parameters and buffers (state_dict names)
///                  /optimizer.safetensors  optimizer state ("INDEX.exp_avg", …; counters in metadata)
///                  /trainer.json           step, random-generator states, the trainer's position
/// ```
///
/// A checkpoint is written into a hidden temporary directory (`.step-00000500.partial-PID`); each
/// file is fsynced, then the directory, then it is renamed to its final name and the parent is
/// fsynced. A crash at any moment leaves either no `step-00000500` or a complete one; partial
/// directories are removed by the next run. After a save only the newest ``keep`` checkpoints
/// remain.
public struct CheckpointDirectory {
    /// The directory holding the checkpoints.
    public let path: String
    /// How many checkpoints a save leaves (the newest ones).
    public let keep: Int
    /// Called at each phase of a save with the step; returning true stops the save right there,
    /// leaving the files as a crash at that moment would (tests simulate crashes with it).
    public var faultInjection: (@Sendable (CheckpointWritePhase, Int) -> Bool)?
    /// Writes one file of a checkpoint (tests substitute failing writers).
    var writeFile: ([UInt8], String) throws(FileWriteError) -> Void = { bytes, path throws(FileWriteError) in
        try writeFileSynced(bytes, to: path)
    }

    /// Checkpoints in `path` (created when first saved), keeping the newest `keep`.
    public init(_ path: String, keep: Int = 3) {
        precondition(keep >= 1, "CheckpointDirectory: keep must be at least 1, got \(keep)")
        self.path = path
        self.keep = keep
    }

    /// A saved checkpoint.
    public struct Entry: Equatable, Sendable {
        /// The training step it was saved after.
        public let step: Int
        /// Its directory.
        public let path: String
    }

    /// The name of the checkpoint of `step`: `step-` and the step, zero-padded to 8 digits.
    public static func name(step: Int) -> String {
        let digits = String(step)
        return "step-" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    /// The complete checkpoints, oldest first (partial directories are not listed).
    public func entries() -> [Entry] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return [] }
        return names.compactMap { name -> Entry? in
            guard name.hasPrefix("step-"), let step = Int(name.dropFirst(5)), step >= 0 else { return nil }
            return Entry(step: step, path: path + "/" + name)
        }.sorted { $0.step < $1.step }
    }

    /// The newest complete checkpoint, or nil.
    public func latest() -> Entry? { entries().last }

    /// Saves `state` as the checkpoint of `step`, replacing one of the same step, then removes
    /// all but the newest ``keep``. On failure the temporary directory is removed and the
    /// existing checkpoints are untouched. `modelMetadata` goes into `model.safetensors`'s
    /// `__metadata__` (e.g. what `kiln sample` needs). Returns the checkpoint's directory.
    @discardableResult
    public func save(_ state: TrainingState, step: Int, trainer: JSONValue,
                     modelMetadata: [String: String] = [:]) throws(CheckpointError) -> String {
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw .unwritable(FileWriteError(path: path, reason: "can't create the directory: \(error.localizedDescription)"))
        }
        let name = Self.name(step: step)
        let final = path + "/" + name
        let temp = path + "/.\(name).partial-\(getpid())"
        try? fm.removeItem(atPath: temp)
        guard mkdir(temp, 0o755) == 0 else {
            throw .unwritable(FileWriteError(path: temp, reason: "mkdir: \(String(cString: strerror(errno)))"))
        }
        func crash(_ phase: CheckpointWritePhase) -> Bool { faultInjection?(phase, step) ?? false }
        func io(_ body: () throws(FileWriteError) -> Void) throws(CheckpointError) {
            do { try body() } catch { throw .unwritable(error) }
        }
        do throws(CheckpointError) {
            if crash(.started) { throw .simulatedCrash(.started) }
            let metadata = modelMetadata.merging(["format": "pt", "kiln.step": String(step)]) { $1 }
            let model = state.model.safeTensorsBytes(metadata: metadata)
            try io { () throws(FileWriteError) in try writeFile(model, temp + "/model.safetensors") }
            if crash(.modelWritten) { throw .simulatedCrash(.modelWritten) }
            let optimizer = state.optimizer.saveState().safeTensorsBytes()
            try io { () throws(FileWriteError) in try writeFile(optimizer, temp + "/optimizer.safetensors") }
            if crash(.optimizerWritten) { throw .simulatedCrash(.optimizerWritten) }
            let json = JSONValue.object([
                .init("format", .string("kiln-checkpoint")),
                .init("version", .integer(1)),
                .init("step", .integer(step)),
                .init("random_generators", .object(state.generators.map { .init($0.0, snapshotJSON($0.1)) })),
                .init("trainer", trainer),
            ])
            try io { () throws(FileWriteError) in try writeFile(Array((json.description + "\n").utf8), temp + "/trainer.json") }
            if crash(.filesWritten) { throw .simulatedCrash(.filesWritten) }
            try io { () throws(FileWriteError) in
                try syncDirectory(temp)
                if fm.fileExists(atPath: final) {
                    // Replacing the checkpoint of the same step (a re-run): move the old one aside first.
                    let old = path + "/.\(name).old-\(getpid())"
                    try? fm.removeItem(atPath: old)
                    guard rename(final, old) == 0 else { throw systemError(final, "rename") }
                    try? fm.removeItem(atPath: old)
                }
                guard rename(temp, final) == 0 else { throw systemError(final, "rename") }
                try syncDirectory(path)
            }
        } catch {
            // A simulated crash leaves everything as it is; a real failure cleans up after itself.
            if case .simulatedCrash = error { throw error }
            try? fm.removeItem(atPath: temp)
            throw error
        }
        if crash(.renamed) { throw .simulatedCrash(.renamed) }
        prune()
        return final
    }

    /// Removes all but the newest ``keep`` checkpoints and any partial directory left by a crash.
    public func prune() {
        let fm = FileManager.default
        for entry in entries().dropLast(keep) { try? fm.removeItem(atPath: entry.path) }
        for name in (try? fm.contentsOfDirectory(atPath: path)) ?? []
        where name.hasPrefix(".step-") && (name.contains(".partial-") || name.contains(".old-")) {
            try? fm.removeItem(atPath: path + "/" + name)
        }
        try? syncDirectory(path)
    }

    /// Loads the checkpoint at `checkpoint` (a `step-…` directory) into `state`, all or nothing:
    /// every file is read and checked, and `readTrainer` has read the trainer's part of
    /// `trainer.json` (with the saved step), before the model, the optimizer or a generator
    /// changes. Returns what `readTrainer` returned.
    public static func load<T>(
        _ checkpoint: String, into state: TrainingState,
        readTrainer: (_ step: Int, _ trainer: TrainerJSON) throws(CheckpointError) -> T
    ) throws(CheckpointError) -> T {
        let jsonPath = checkpoint + "/trainer.json"
        let json: JSONValue
        do {
            json = try JSONValue(parsing: try readWholeFile(jsonPath))
        } catch let error as FileReadError {
            throw .invalid(file: jsonPath, field: nil, problem: error.reason)
        } catch {
            throw .invalid(file: jsonPath, field: nil, problem: "not valid JSON \(error)")
        }
        let fields = TrainerJSON(json, file: jsonPath)
        guard try fields.string("format") == "kiln-checkpoint" else {
            throw .invalid(file: jsonPath, field: "format", problem: "expected \"kiln-checkpoint\"")
        }
        guard try fields.int("version") == 1 else {
            throw .invalid(file: jsonPath, field: "version", problem: "expected 1 (written by a newer Kiln?)")
        }
        let step = try fields.int("step")
        // Random generators: exactly the ones this run has.
        guard let saved = json["random_generators"]?.members else {
            throw .invalid(file: jsonPath, field: "random_generators", problem: "expected an object")
        }
        var snapshots: [[UInt64]] = []
        for (name, _) in state.generators {
            guard let value = saved.first(where: { $0.key == name })?.value else {
                throw .mismatch(file: jsonPath, field: "random_generators", expected: name, found: saved.map(\.key).joined(separator: ", "))
            }
            guard let words = snapshot(from: value) else {
                throw .invalid(file: jsonPath, field: "random_generators.\(name)", problem: "expected 4 hexadecimal words, not all zero")
            }
            snapshots.append(words)
        }
        if let extra = saved.first(where: { m in !state.generators.contains { $0.0 == m.key } }) {
            throw .mismatch(file: jsonPath, field: "random_generators", expected: state.generators.map(\.0).joined(separator: ", "),
                            found: extra.key)
        }
        let trainer = try readTrainer(step, fields.object("trainer"))
        // Model: checked and converted, not yet assigned.
        let modelState: [String: Tensor]
        let optimizerState: OptimizerState
        do throws(SafeTensorsError) {
            modelState = try state.model.stateDict(from: SafeTensors(contentsOf: checkpoint + "/model.safetensors"))
            optimizerState = try OptimizerState(SafeTensors(contentsOf: checkpoint + "/optimizer.safetensors"))
        } catch {
            throw .file(error)
        }
        // The optimizer checks everything before it changes; after it, nothing can fail.
        do {
            try state.optimizer.loadState(optimizerState)
        } catch {
            throw .optimizer(file: checkpoint + "/optimizer.safetensors", error)
        }
        do {
            try state.model.loadStateDict(modelState)
        } catch {
            throw .invalid(file: checkpoint + "/model.safetensors", field: nil, problem: "\(error)")
        }
        for ((_, generator), words) in zip(state.generators, snapshots) { generator.snapshot = words }
        return trainer
    }
}

/// What a checkpoint saves and restores: a model, its optimizer and the random generators the
/// training draws from.
public struct TrainingState {
    /// The model (parameters and buffers).
    public var model: Module
    /// The optimizer over the model's parameters.
    public var optimizer: any CheckpointableOptimizer
    /// The generators, by name: `"global"` for `RandomGenerator.global`, plus those the model holds.
    public var generators: [(String, RandomGenerator)]

    /// The state of `model` and `optimizer` with `RandomGenerator.global` and every generator the
    /// model holds (``Module/namedRandomGenerators()``).
    public init(model: Module, optimizer: any CheckpointableOptimizer) {
        self.model = model
        self.optimizer = optimizer
        self.generators = [("global", RandomGenerator.global)]
            + model.namedRandomGenerators().filter { $0.1 !== RandomGenerator.global }
    }

    /// The state of `model`, `optimizer` and exactly `generators`.
    public init(model: Module, optimizer: any CheckpointableOptimizer, generators: [(String, RandomGenerator)]) {
        self.model = model
        self.optimizer = optimizer
        self.generators = generators
    }
}

/// The moments of a checkpoint save, in order (for fault injection).
public enum CheckpointWritePhase: String, Sendable, CaseIterable {
    /// The temporary directory exists, nothing written.
    case started
    /// `model.safetensors` is written.
    case modelWritten
    /// `optimizer.safetensors` is written.
    case optimizerWritten
    /// All three files are written, before the rename.
    case filesWritten
    /// The checkpoint has its final name, before older ones are pruned.
    case renamed
}

/// Why a checkpoint could not be saved or loaded.
public enum CheckpointError: Error, Equatable, CustomStringConvertible {
    /// `--resume` found no checkpoint (a fresh run starts instead; the CLI says so).
    case noCheckpoint(directory: String)
    /// A safetensors file is unreadable, damaged or does not fit the model.
    case file(SafeTensorsError)
    /// The optimizer state does not fit the optimizer.
    case optimizer(file: String, OptimizerStateError)
    /// `trainer.json` (or a file) is damaged: the field and what is wrong.
    case invalid(file: String, field: String?, problem: String)
    /// The checkpoint was made by a different configuration than this run's.
    case mismatch(file: String, field: String, expected: String, found: String)
    /// Writing failed (full disk, unwritable directory); earlier checkpoints are intact.
    case unwritable(FileWriteError)
    /// The optimizer cannot save its state.
    case notCheckpointable(String)
    /// A save stopped on purpose by ``CheckpointDirectory/faultInjection``.
    case simulatedCrash(CheckpointWritePhase)

    /// A message naming the file, the field or tensor, and what was expected and found.
    public var description: String {
        switch self {
        case .noCheckpoint(let d): "no checkpoint in \(d)"
        case .file(let e): "\(e)"
        case .optimizer(let f, let e): "\(f): \(e)"
        case .invalid(let f, let field, let p): "\(f): " + (field.map { "field '\($0)': " } ?? "") + p
        case .mismatch(let f, let field, let e, let found):
            "\(f): checkpoint was made with \(field) \(found), this run has \(e)"
        case .unwritable(let e): "checkpoint not saved: \(e)"
        case .notCheckpointable(let o): "the optimizer \(o) can't save its state"
        case .simulatedCrash(let p): "checkpoint save stopped at \(p.rawValue) (simulated crash)"
        }
    }
}

/// Typed access to the fields of a checkpoint's JSON, with errors naming the file and field.
public struct TrainerJSON {
    /// The JSON object.
    public let value: JSONValue
    /// The file it came from.
    public let file: String

    init(_ value: JSONValue, file: String) {
        self.value = value
        self.file = file
    }

    /// The field `name`.
    public func field(_ name: String) throws(CheckpointError) -> JSONValue {
        guard let v = value[name] else { throw .invalid(file: file, field: name, problem: "missing") }
        return v
    }

    /// The non-negative integer field `name`.
    public func int(_ name: String) throws(CheckpointError) -> Int {
        guard let v = try field(name).int, v >= 0 else {
            throw .invalid(file: file, field: name, problem: "expected a non-negative integer, found \(value[name]!)")
        }
        return v
    }

    /// The number field `name` (`null` reads as NaN).
    public func double(_ name: String) throws(CheckpointError) -> Double {
        let v = try field(name)
        if v == .null { return .nan }
        guard let d = v.double else { throw .invalid(file: file, field: name, problem: "expected a number, found \(v)") }
        return d
    }

    /// The Float32 field `name`, exact for text written from a Float (`null` reads as NaN).
    public func float(_ name: String) throws(CheckpointError) -> Float {
        let v = try field(name)
        if v == .null { return .nan }
        guard case .number(let text) = v, let f = Float(text) else {
            throw .invalid(file: file, field: name, problem: "expected a number, found \(v)")
        }
        return f
    }

    /// The string field `name`.
    public func string(_ name: String) throws(CheckpointError) -> String {
        guard let s = try field(name).string else {
            throw .invalid(file: file, field: name, problem: "expected a string, found \(value[name]!)")
        }
        return s
    }

    /// The object field `name`.
    public func object(_ name: String) throws(CheckpointError) -> TrainerJSON {
        let v = try field(name)
        guard v.members != nil else { throw .invalid(file: file, field: name, problem: "expected an object") }
        return TrainerJSON(v, file: file)
    }
}

/// A generator's four state words as 16-digit hexadecimal strings (JSON numbers lose bits past 2^53).
private func snapshotJSON(_ generator: RandomGenerator) -> JSONValue {
    .array(generator.snapshot.map { word in
        let hex = String(word, radix: 16)
        return .string(String(repeating: "0", count: 16 - hex.count) + hex)
    })
}

private func snapshot(from value: JSONValue) -> [UInt64]? {
    guard let words = value.array, words.count == 4 else { return nil }
    let parsed = words.compactMap { $0.string.flatMap { $0.count == 16 ? UInt64($0, radix: 16) : nil } }
    // xoshiro256** never reaches the all-zero state; a file that has it is damaged.
    guard parsed.count == 4, parsed.contains(where: { $0 != 0 }) else { return nil }
    return parsed
}

private func systemError(_ path: String, _ what: String) -> FileWriteError {
    FileWriteError(path: path, reason: "\(what): \(String(cString: strerror(errno)))")
}

// MARK: - Optimizer state as safetensors

extension OptimizerState {
    /// The state as a safetensors file: the tensors under their names, and in `__metadata__`
    /// `kiln.optimizer`, `kiln.step_count`, `kiln.learning_rate`, `kiln.hyper.NAME` and
    /// `kiln.counter.INDEX.KEY` (decimal text that reads back to the same bits).
    public func safeTensorsBytes() -> [UInt8] {
        var metadata = ["kiln.optimizer": kind, "kiln.step_count": String(stepCount),
                        "kiln.learning_rate": "\(learningRate)"]
        for (name, value) in hyperparameters { metadata["kiln.hyper.\(name)"] = "\(value)" }
        for (name, value) in counters { metadata["kiln.counter.\(name)"] = String(value) }
        return SafeTensors.serialize(tensors, metadata: metadata)
    }

    /// Reads a state written by ``safeTensorsBytes()``.
    public init(_ file: SafeTensors) throws(SafeTensorsError) {
        func bad(_ key: String, _ expected: String) -> SafeTensorsError {
            SafeTensorsError(file: file.path, reason: .invalidHeader(
                "__metadata__ \(key): expected \(expected), found \(file.metadata[key].map { "\"\($0)\"" } ?? "nothing")"))
        }
        guard let kind = file.metadata["kiln.optimizer"] else { throw bad("kiln.optimizer", "the optimizer's name") }
        guard let stepCount = file.metadata["kiln.step_count"].flatMap({ Int($0) }) else {
            throw bad("kiln.step_count", "an integer")
        }
        guard let rate = file.metadata["kiln.learning_rate"].flatMap({ Float($0) }) else {
            throw bad("kiln.learning_rate", "a number")
        }
        var hyperparameters: [(String, Float)] = [], counters: [(String, Int)] = []
        for key in file.metadata.keys.sorted() {
            if key.hasPrefix("kiln.hyper.") {
                guard let v = Float(file.metadata[key]!) else { throw bad(key, "a number") }
                hyperparameters.append((String(key.dropFirst("kiln.hyper.".count)), v))
            } else if key.hasPrefix("kiln.counter.") {
                guard let v = Int(file.metadata[key]!) else { throw bad(key, "an integer") }
                counters.append((String(key.dropFirst("kiln.counter.".count)), v))
            }
        }
        self.init(kind: kind, stepCount: stepCount, learningRate: rate, hyperparameters: hyperparameters,
                  tensors: try file.tensors(), counters: counters)
    }
}

/// Loads a model's weights from `path`: a `.safetensors` file, a checkpoint (`step-…` directory
/// holding `model.safetensors`) or a checkpoint directory (its newest checkpoint). All or nothing.
public func loadWeights(_ model: Module, from path: String) throws(CheckpointError) {
    let file = try modelFile(at: path)
    do { try model.loadSafeTensors(from: file) } catch { throw .file(error) }
}

/// The model file `path` names: `path` itself for a file, `path/model.safetensors` for a
/// checkpoint, or the newest checkpoint's for a checkpoint directory.
public func modelFile(at path: String) throws(CheckpointError) -> String {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw .file(SafeTensorsError(file: path, reason: .unreadable("no such file or directory")))
    }
    guard isDirectory.boolValue else { return path }
    if FileManager.default.fileExists(atPath: path + "/model.safetensors") { return path + "/model.safetensors" }
    guard let latest = CheckpointDirectory(path).latest() else { throw .noCheckpoint(directory: path) }
    return latest.path + "/model.safetensors"
}
