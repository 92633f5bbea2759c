/// One CUDA C translation unit: the prelude plus a group of kernels, and the entry points it
/// defines (each `extern "C" __global__`, so its PTX `.entry` name is the C name).
package struct KernelSource: Sendable {
    /// A short name, used in compile errors and as the NVRTC program name.
    package let name: String
    /// The kernels' text (without the prelude).
    package let body: String
    /// The `extern "C"` kernels it defines.
    package let entries: [String]

    /// The text NVRTC compiles.
    package var source: String { KernelPrelude.source + body }
}

/// Every kernel source of the CUDA backend.
package enum KernelSources {
    package static let all: [KernelSource] = [
        ElementwiseKernels.source, ReduceKernels.source, SoftmaxKernels.source, LayerNormKernels.source,
        EmbeddingKernels.source, AttentionKernels.source, RecurrentKernels.source, RandomKernels.source,
        ConvKernels.source, PoolKernels.source, BatchNormKernels.source, OptimizerKernels.source,
    ]
}
