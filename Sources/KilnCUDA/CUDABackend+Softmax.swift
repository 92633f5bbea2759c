import KilnCompute

extension CUDABackend {
    /// `values` in device memory for one op (labels, row indices).
    func upload(_ values: [Int32]) -> UInt64 { context.temporaryUpload(values) }

    package func softmax(_ x: StridedView, rows: Int, cols: Int, log: Bool, into y: Storage) {
        launchRows(SoftmaxKernels.source, "kiln_softmax", rows: rows, cols: cols,
                   [.pointer(y.deviceAddress), .pointer(x.deviceStart), .int64(Int64(rows)), .int32(Int32(cols)),
                    .int32(log ? 1 : 0)])
    }

    package func softmaxBackward(y: StridedView, dy: StridedView, rows: Int, cols: Int, log: Bool, into dx: Storage) {
        launchRows(SoftmaxKernels.source, "kiln_softmax_backward", rows: rows, cols: cols,
                   [.pointer(dx.deviceAddress), .pointer(y.deviceStart), .pointer(dy.deviceStart), .int64(Int64(rows)),
                    .int32(Int32(cols)), .int32(log ? 1 : 0)])
    }

    package func crossEntropy(_ logits: StridedView, labels: [Int32], rows: Int, cols: Int, smoothing: Float,
                              probs: Storage) -> Float {
        let loss = allocate(1)
        crossEntropy(logits, labels: labels, rows: rows, cols: cols, smoothing: smoothing, probs: probs, loss: loss)
        return read(StridedView(loss, Layout(contiguous: [])))[0]
    }

    /// Per-row losses, then their mean (summed in double, as the CPU sums them) into `loss`.
    package func crossEntropy(_ logits: StridedView, labels: [Int32], rows: Int, cols: Int, smoothing: Float,
                              probs: Storage, loss: Storage) {
        precondition(labels.count == rows, "crossEntropy: \(labels.count) labels for \(rows) rows")
        for (r, label) in labels.enumerated() {
            precondition(label >= 0 && Int(label) < cols, "crossEntropy: label \(label) out of range 0..<\(cols) in row \(r)")
        }
        let losses = allocate(rows)
        launchRows(SoftmaxKernels.source, "kiln_cross_entropy", rows: rows, cols: cols,
                   [.pointer(probs.deviceAddress), .pointer(losses.deviceAddress), .pointer(logits.deviceStart),
                    .pointer(upload(labels)), .int64(Int64(rows)), .int32(Int32(cols)), .float(smoothing)])
        launchRows(SoftmaxKernels.source, "kiln_mean", rows: 1, cols: rows,
                   [.pointer(loss.deviceAddress), .pointer(losses.deviceAddress), .int64(Int64(rows))])
    }

    package func crossEntropyBackward(probs: StridedView, labels: [Int32], rows: Int, cols: Int, smoothing: Float,
                                      scale: Float, into dx: Storage) {
        guard rows > 0 && cols > 0 else { return }
        launch(SoftmaxKernels.source, "kiln_cross_entropy_backward", count: rows * cols,
               [.pointer(dx.deviceAddress), .pointer(probs.deviceStart), .pointer(upload(labels)), .int64(Int64(rows)),
                .int32(Int32(cols)), .float(smoothing), .float(scale)])
    }

    /// Stops on an index outside the table: on the device it would be an illegal address.
    private func checkRows(_ indices: [Int32], count: Int, _ op: String) {
        for (i, row) in indices.enumerated() {
            precondition(row >= 0 && Int(row) < count, "\(op): index \(row) at \(i) out of range 0..<\(count)")
        }
    }

    package func indexSelect(_ x: StridedView, width: Int, indices: [Int32], into out: Storage) {
        guard !indices.isEmpty && width > 0 else { return }
        checkRows(indices, count: x.layout.count / width, "indexSelect")
        launch(EmbeddingKernels.source, "kiln_index_select", count: indices.count * width,
               [.pointer(out.deviceAddress), .pointer(x.deviceStart), .pointer(upload(indices)),
                .int64(Int64(indices.count)), .int64(Int64(width))])
    }

    package func indexAdd(_ dy: StridedView, width: Int, indices: [Int32], into dx: Storage) {
        guard !indices.isEmpty && width > 0 else { return }
        checkRows(indices, count: dx.capacity / width, "indexAdd")
        launch(EmbeddingKernels.source, "kiln_index_add", count: indices.count * width,
               [.pointer(dx.deviceAddress), .pointer(dy.deviceStart), .pointer(upload(indices)),
                .int64(Int64(indices.count)), .int64(Int64(width))])
    }
}
