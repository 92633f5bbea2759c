import KilnCompute

// Moving tensors between devices. A copy goes through the host: the source backend reads the
// view into a row-major array, the target backend writes it (for CUDA: one download or upload).

extension Tensor {
    /// This tensor on `device`: itself when it is already there, else a contiguous copy.
    /// Differentiable: the gradient goes back to this tensor's device.
    public func to(_ device: Device) -> Tensor {
        let source = self.device
        guard device != source else { return self }
        let out = Tensor.empty(shape, device: device)
        out.backend.write(backend.read(view), into: out.view)
        return out.recorded(from: [self]) { [$0.to(source)] }
    }

    /// Moves this tensor's whole storage to `device` in place: every tensor viewing the same storage
    /// (views, a parameter's value, a module's buffer) is then on `device`, with the same layout.
    package func moveStorage(to device: Device) {
        guard storage.device != device else { return }
        let all = StridedView(storage, Layout(contiguous: [storage.capacity]))
        let target = KilnCompute.backend(for: device)
        let moved = target.allocate(storage.capacity)
        target.write(backend.read(all), into: StridedView(moved, Layout(contiguous: [storage.capacity])))
        storage.exchangeContents(with: moved)
    }
}

extension Device {
    /// Waits until every op queued on this device has finished (a no-op on the CPU, whose ops are
    /// synchronous). Timing GPU work needs it: CUDA ops return as soon as they are queued.
    public func synchronize() { KilnCompute.backend(for: self).synchronize() }
}
