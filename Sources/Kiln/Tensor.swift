import KilnCompute

/// An n-dimensional array of Float32 values that records the operations applied to it, so that
/// `backward()` can compute gradients.
///
/// A tensor is a value: a layout (shape, strides, offset) over a reference-counted storage.
/// Views (`reshaped`, `transposed`, `narrowed`, `expanded`, …) share the storage and never copy;
/// `contiguous()` copies only when the layout needs it. Element type is always `Float`.
public struct Tensor: @unchecked Sendable {
    package var storage: Storage
    package var layout: Layout
    /// The autograd node: set when this tensor requires a gradient.
    package var node: Node?

    package init(storage: Storage, layout: Layout, node: Node? = nil) {
        self.storage = storage
        self.layout = layout
        self.node = node
    }

    /// A contiguous tensor of `shape` holding `scalars` in row-major order.
    public init(_ scalars: [Float], shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
        precondition(scalars.count == shape.reduce(1, *),
                     "Tensor: \(scalars.count) scalars don't fill shape \(shape) (\(shape.reduce(1, *)) elements)")
        let s = Storage(count: scalars.count)
        scalars.withUnsafeBufferPointer { s.pointer.update(from: $0.baseAddress!, count: scalars.count) }
        self.init(storage: s, layout: Layout(contiguous: shape))
    }

    /// A 1-D tensor of `scalars`.
    public init(_ scalars: [Float]) { self.init(scalars, shape: [scalars.count]) }

    /// A 0-D tensor holding one value.
    public init(scalar: Float) { self.init([scalar], shape: []) }

    /// A contiguous tensor of `shape` whose elements `fill` writes (all of them, row-major).
    public init(shape: [Int], unsafeUninitializedCapacity fill: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
        let count = shape.reduce(1, *)
        let s = Storage(count: count)
        try fill(UnsafeMutableBufferPointer(start: s.pointer, count: count))
        self.init(storage: s, layout: Layout(contiguous: shape))
    }

    /// The size of each axis.
    public var shape: [Int] { layout.shape }
    /// The number of axes.
    public var rank: Int { layout.rank }
    /// The number of elements.
    public var count: Int { layout.count }
    /// The device holding the storage.
    public var device: Device { storage.device }
    /// The strides (in elements) of each axis in the storage.
    public var strides: [Int] { layout.strides }
    /// True when the elements are laid out row-major without gaps.
    public var isContiguous: Bool { layout.isContiguous }

    /// True when this tensor and `other` are views of the same storage.
    public func sharesStorage(with other: Tensor) -> Bool { storage === other.storage }

    /// The elements in row-major order (a copy; a device tensor is downloaded).
    public var scalars: [Float] {
        guard device == .cpu else { return backend.read(view) }
        let c = contiguous()
        return Array(UnsafeBufferPointer(start: c.storage.pointer + c.layout.offset, count: c.count))
    }

    /// The single element of a one-element tensor (a device tensor waits for its queued work).
    public var item: Float {
        precondition(count == 1, "item: tensor of shape \(shape) has \(count) elements, not 1")
        guard device == .cpu else { return backend.read(view)[0] }
        return storage.pointer[layout.offset]
    }

    /// Calls `body` with the elements in row-major order (copying first if not contiguous, or
    /// downloading a device tensor).
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        guard device == .cpu else { return try backend.read(view).withUnsafeBufferPointer(body) }
        let c = contiguous()
        return try withExtendedLifetime(c) {
            try body(UnsafeBufferPointer(start: c.storage.pointer + c.layout.offset, count: c.count))
        }
    }

    /// Calls `body` with this tensor's own elements to change them in place (optimizers, loaders).
    /// Every view of the same storage sees the change. The tensor must be contiguous. A device
    /// tensor is downloaded, changed on the host and uploaded again (correct, but two transfers).
    public func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        precondition(isContiguous, "withUnsafeMutableBufferPointer: tensor of shape \(shape) is not contiguous")
        guard device == .cpu else {
            var values = backend.read(view)
            defer { backend.write(values, into: view) }
            return try values.withUnsafeMutableBufferPointer { try body($0) }
        }
        return try withExtendedLifetime(storage) {
            try body(UnsafeMutableBufferPointer(start: storage.pointer + layout.offset, count: count))
        }
    }

    /// Copies `source`'s elements (same shape, any layout, any device) into this tensor's storage
    /// in place.
    public func assign(_ source: Tensor) {
        precondition(source.shape == shape, "assign: source shape \(source.shape) differs from \(shape)")
        guard source.device == device else { return backend.write(source.backend.read(source.view), into: view) }
        backend.copy(source.view, into: view)
    }

    package var view: StridedView { StridedView(storage, layout) }
    package var backend: any Backend { KilnCompute.backend(for: storage.device) }

    /// A fresh contiguous tensor of `shape` on this tensor's device, elements uninitialised.
    package func empty(_ shape: [Int]) -> Tensor {
        Tensor(storage: backend.allocate(shape.reduce(1, *)), layout: Layout(contiguous: shape))
    }
}
