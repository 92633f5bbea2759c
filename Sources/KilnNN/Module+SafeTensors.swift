/// Saving a module's parameters and buffers as safetensors, and loading them back, under the
/// `state_dict` names PyTorch uses for the same model: a file written here loads with
/// `safetensors.torch.load_file` + `load_state_dict`, and one written by PyTorch loads here.
extension Module {
    /// The module's state dict as the bytes of a safetensors file. Buffers named
    /// `num_batches_tracked` are stored as `I64`, as PyTorch stores them; everything else as `F32`.
    public func safeTensorsBytes(metadata: [String: String] = [:]) -> [UInt8] {
        let state = stateDict()
        var dtypes: [String: SafeTensorsDType] = [:]
        for (name, _) in state where name == "num_batches_tracked" || name.hasSuffix(".num_batches_tracked") {
            dtypes[name] = .I64
        }
        return SafeTensors.serialize(state, metadata: metadata, dtypes: dtypes)
    }

    /// Writes the parameters and buffers to `path` atomically (temporary file, fsync, rename):
    /// a crash leaves the old file or the new one, never a part.
    public func saveSafeTensors(to path: String, metadata: [String: String] = [:]) throws(SafeTensorsError) {
        do {
            try writeFileAtomically(safeTensorsBytes(metadata: metadata), to: path)
        } catch {
            throw SafeTensorsError(file: path, reason: .unwritable(error.reason))
        }
    }

    /// Reads the safetensors file at `path` into the parameters and buffers, all or nothing: the
    /// file must hold exactly the module's tensors with the same shapes, and any problem (a bad
    /// file, a missing, extra or differently shaped tensor) throws before anything is changed.
    ///
    /// - Returns: the file's `__metadata__`.
    @discardableResult
    public func loadSafeTensors(from path: String) throws(SafeTensorsError) -> [String: String] {
        let file = try SafeTensors(contentsOf: path)
        try loadSafeTensors(file)
        return file.metadata
    }

    /// Loads a checked safetensors file into the parameters and buffers, all or nothing (see
    /// ``loadSafeTensors(from:)``).
    public func loadSafeTensors(_ file: SafeTensors) throws(SafeTensorsError) {
        let state = try stateDict(from: file)
        do {
            try loadStateDict(state)
        } catch {
            // Unreachable after the checks of `stateDict(from:)`; reported rather than trapped.
            throw SafeTensorsError(file: file.path, reason: .invalidHeader("\(error)"))
        }
    }

    /// The tensors of `file` converted to Float32, after checking that they are exactly this
    /// module's state-dict names with the same shapes; changes nothing. ``loadStateDict(_:)``
    /// accepts the result without failing.
    public func stateDict(from file: SafeTensors) throws(SafeTensorsError) -> [String: Tensor] {
        let own = stateDict()
        for (name, tensor) in own {
            guard let entry = file.entry(named: name) else {
                throw SafeTensorsError(file: file.path, tensor: name, reason: .missingTensor)
            }
            guard entry.shape == tensor.shape else {
                throw SafeTensorsError(file: file.path, tensor: name,
                                       reason: .shapeMismatch(expected: tensor.shape, found: entry.shape))
            }
        }
        let known = Set(own.map(\.0))
        if let extra = file.entries.first(where: { !known.contains($0.name) }) {
            throw SafeTensorsError(file: file.path, tensor: extra.name, reason: .unexpectedTensor)
        }
        var state: [String: Tensor] = [:]
        for (name, _) in own { state[name] = try file.tensor(named: name) }
        return state
    }
}
