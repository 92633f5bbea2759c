import KilnNN

/// The `mlp` reference workload (the Keras `mnist_mlp` model): 784 → 512 → 512 → 10 with ReLU
/// and dropout 0.2 after each hidden layer. Parameter names match PyTorch's `nn.Sequential`
/// (`0.weight`, `3.weight`, `6.weight`).
public func makeMLP(inputs: Int = 784, hidden: Int = 512, classes: Int = 10, dropout: Float = 0.2,
                    generator: RandomGenerator = .global) -> Sequential {
    Sequential(
        Linear(inputs, hidden, generator: generator), ReLU(), Dropout(dropout, generator: generator),
        Linear(hidden, hidden, generator: generator), ReLU(), Dropout(dropout, generator: generator),
        Linear(hidden, classes, generator: generator))
}
