// `import KilnNN` brings `Tensor` and the rest of `Kiln` with it.
@_exported import Kiln
