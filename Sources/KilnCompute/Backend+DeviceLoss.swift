extension Backend {
    package func crossEntropy(_ logits: StridedView, labels: [Int32], rows: Int, cols: Int, smoothing: Float,
                              probs: Storage, loss: Storage) {
        let value = crossEntropy(logits, labels: labels, rows: rows, cols: cols, smoothing: smoothing, probs: probs)
        fill(StridedView(loss, Layout(contiguous: [])), value: value)
    }
}
