import KilnCompute

extension Tensor {
    /// Runs a row kernel on the last axis; other axes are moved last first (a copy).
    private func alongLastAxis(_ axis: Int, _ body: (Tensor) -> Tensor) -> Tensor {
        let a = normalizedAxis(axis)
        if a == rank - 1 { return body(self) }
        return body(transposed(a, -1)).transposed(a, -1)
    }

    private func softmaxKernel(log: Bool) -> Tensor {
        let x = contiguous()
        let cols = shape.last ?? 1
        let rows = count / Swift.max(cols, 1)
        let out = empty(shape)
        backend.softmax(x.view, rows: rows, cols: cols, log: log, into: out.storage)
        let y = out
        return out.recorded(from: [x]) { dy in
            let dyc = dy.contiguous()
            let dx = dyc.empty(dyc.shape)
            dx.backend.softmaxBackward(y: y.view, dy: dyc.view, rows: rows, cols: cols, log: log, into: dx.storage)
            return [dx]
        }
    }

    /// eˣ normalised to sum to 1 along `axis` (fused, numerically stable).
    public func softmax(axis: Int = -1) -> Tensor { alongLastAxis(axis) { $0.softmaxKernel(log: false) } }

    /// log(softmax(x)) along `axis`, computed without forming softmax.
    public func logSoftmax(axis: Int = -1) -> Tensor { alongLastAxis(axis) { $0.softmaxKernel(log: true) } }

    /// Rows `indices` of the first axis (an embedding lookup); gradients add up for repeated rows.
    public func indexSelect(_ indices: [Int32]) -> Tensor {
        let rows = shape[0]
        for (i, r) in indices.enumerated() {
            precondition(r >= 0 && Int(r) < rows, "indexSelect: index \(r) at position \(i) out of range 0..<\(rows)")
        }
        let x = contiguous()
        let width = count / Swift.max(rows, 1)
        let outShape = [indices.count] + Array(shape.dropFirst())
        let out = empty(outShape)
        backend.indexSelect(x.view, width: width, indices: indices, into: out.storage)
        let inputShape = shape
        return out.recorded(from: [x]) { dy in
            let dx = Tensor.zeros(inputShape, device: dy.device)
            dx.backend.indexAdd(dy.contiguous().view, width: width, indices: indices, into: dx.storage)
            return [dx]
        }
    }

    /// For `[n, c]` input: element `[i, labels[i]]` of each row, shape `[n]`.
    public func gather(_ labels: [Int32]) -> Tensor {
        precondition(rank == 2 && labels.count == shape[0], "gather: needs [n, c] input and n labels, got \(shape) and \(labels.count)")
        let c = shape[1]
        for (i, l) in labels.enumerated() {
            precondition(l >= 0 && Int(l) < c, "gather: label \(l) at row \(i) out of range 0..<\(c)")
        }
        let flat = labels.enumerated().map { Int32($0.offset * c) + $0.element }
        return reshaped([-1, 1]).indexSelect(flat).reshaped([labels.count])
    }

    /// `[labels.count, classes]` with a 1 at each label.
    public static func oneHot(_ labels: [Int32], classes: Int) -> Tensor {
        Tensor(shape: [labels.count, classes]) { buffer in
            buffer.update(repeating: 0)
            for (i, l) in labels.enumerated() {
                precondition(l >= 0 && Int(l) < classes, "oneHot: label \(l) at \(i) out of range 0..<\(classes)")
                buffer[i * classes + Int(l)] = 1
            }
        }
    }

    /// Zeros each element with probability `p` and scales the rest by 1/(1−p) (inverted dropout).
    public func dropout(p: Float, generator: RandomGenerator = .global) -> Tensor {
        precondition(p >= 0 && p < 1, "dropout: p must be in [0, 1), got \(p)")
        if p == 0 { return self }
        let mask = empty(shape)
        backend.dropoutMask(count: count, p: p, generator: generator, into: mask.storage)
        let out = empty(shape)
        backend.binary(.mul, view, mask.view, into: out.storage)
        return out.recorded(from: [self]) { g in [g.binary(.mul, mask)] }
    }
}

/// Mean cross-entropy between `logits` `[n, classes]` and integer `labels`, fused with
/// log-softmax; `labelSmoothing` mixes the one-hot target with the uniform one (PyTorch's rule).
public func crossEntropy(_ logits: Tensor, labels: [Int32], labelSmoothing: Float = 0) -> Tensor {
    precondition(logits.rank == 2, "crossEntropy: logits must be [n, classes], got \(logits.shape)")
    precondition(labels.count == logits.shape[0], "crossEntropy: \(labels.count) labels for \(logits.shape[0]) rows")
    let (rows, cols) = (logits.shape[0], logits.shape[1])
    for (i, l) in labels.enumerated() {
        precondition(l >= 0 && Int(l) < cols, "crossEntropy: label \(l) at row \(i) out of range 0..<\(cols)")
    }
    let x = logits.contiguous()
    let probs = x.empty([rows, cols])
    // The loss stays on the logits' device (a device backend need not wait for it), so it
    // combines with other terms computed there.
    let value = x.empty([])
    x.backend.crossEntropy(x.view, labels: labels, rows: rows, cols: cols, smoothing: labelSmoothing,
                           probs: probs.storage, loss: value.storage)
    return value.recorded(from: [x]) { g in
        let dx = probs.empty([rows, cols])
        let onCPU = g.storage.device == .cpu
        // On a device, scaling by g as a tensor op avoids reading g back (a wait mid-step).
        dx.backend.crossEntropyBackward(probs: probs.view, labels: labels, rows: rows, cols: cols, smoothing: labelSmoothing,
                                        scale: (onCPU ? g.item : 1) / Float(rows), into: dx.storage)
        return [onCPU ? dx : dx * g]
    }
}
