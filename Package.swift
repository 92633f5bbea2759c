// swift-tools-version:6.1
// Kiln: tensors, autograd, layers, optimizers and data loading on an OpenBLAS compute core.
// Dependencies point one way, downwards: kiln (CLI) → KilnModels → KilnNN/KilnOptim/KilnData/KilnDistributed → Kiln
// → KilnCompute → CBLAS. See Docs/ARCHITECTURE.md.
import PackageDescription

let package = Package(
    name: "Kiln",
    products: [
        .library(name: "Kiln", targets: ["Kiln"]),
        .library(name: "KilnNN", targets: ["KilnNN"]),
        .library(name: "KilnOptim", targets: ["KilnOptim"]),
        .library(name: "KilnData", targets: ["KilnData"]),
        .library(name: "KilnModels", targets: ["KilnModels"]),
        .library(name: "KilnCUDA", targets: ["KilnCUDA"]),
        .executable(name: "kiln", targets: ["kiln"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // OpenBLAS's cblas.h, found through pkg-config.
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // Shapes, layouts, storage, the Backend protocol and the CPU backend (OpenBLAS + Swift kernels).
        .target(name: "KilnCompute", dependencies: ["CBLAS"]),
        // Tensor, its differentiable ops with their backward rules, the autograd engine.
        .target(name: "Kiln", dependencies: ["KilnCompute"]),
        // Module, layers, losses, initializers.
        .target(name: "KilnNN", dependencies: ["Kiln"]),
        // Optimizers, learning-rate schedules, gradient clipping.
        .target(name: "KilnOptim", dependencies: ["Kiln", "KilnCompute"]),
        // Dataset readers, batching, shuffling, background prefetch.
        .target(name: "KilnData", dependencies: ["Kiln"]),
        // Data-parallel training over MPI ranks; Open MPI is loaded at run time (dlopen), so
        // nothing here needs MPI to build. See Docs/DISTRIBUTED.md.
        .target(name: "KilnDistributed", dependencies: ["Kiln"]),
        // The reference workloads of the benchmarks, with their trainers.
        .target(name: "KilnModels", dependencies: ["Kiln", "KilnNN", "KilnOptim", "KilnData", "KilnDistributed"]),
        // The optional CUDA backend: driver API, cuBLAS and NVRTC loaded with dlopen at run time,
        // so it builds everywhere (no CUDA toolkit needed).
        .target(name: "KilnCUDA", dependencies: ["KilnCompute"]),
        // The CUDA backend's correctness checks against the CPU backend (run by the XCTest cases and
        // by kiln-cuda-check, for GPU machines without a Swift toolchain).
        .target(name: "KilnCUDACheck", dependencies: ["KilnCUDA", "Kiln", "KilnOptim"]),
        .executableTarget(name: "kiln-cuda-check", dependencies: ["KilnCUDACheck"]),
        // The command-line tool.
        .executableTarget(
            name: "kiln",
            dependencies: [
                "KilnModels",
                "KilnCUDA",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // A complete MNIST trainer on the public API.
        .executableTarget(
            name: "MNISTTrainer",
            dependencies: ["Kiln", "KilnNN", "KilnOptim", "KilnData"],
            path: "Examples/MNISTTrainer"
        ),
        // A convolutional network for MNIST on the public API.
        .executableTarget(
            name: "CNNTrainer",
            dependencies: ["Kiln", "KilnNN", "KilnOptim", "KilnData"],
            path: "Examples/CNNTrainer"
        ),

        .testTarget(name: "KilnComputeTests", dependencies: ["KilnCompute"]),
        .testTarget(name: "KilnTests", dependencies: ["Kiln"]),
        .testTarget(name: "KilnNNTests", dependencies: ["KilnNN"], resources: [.copy("Fixtures")]),
        .testTarget(name: "KilnOptimTests", dependencies: ["KilnOptim", "KilnNN"], resources: [.copy("Fixtures")]),
        .testTarget(name: "KilnDataTests", dependencies: ["KilnData"]),
        .testTarget(name: "KilnCLITests", dependencies: ["kiln"]),
        .testTarget(name: "KilnCUDATests", dependencies: ["KilnCUDA", "Kiln", "KilnNN", "KilnOptim", "KilnCUDACheck", "kiln-cuda-check"]),
        .testTarget(name: "KilnDistributedTests", dependencies: ["KilnDistributed", "KilnNN", "kiln"]),
        .testTarget(name: "KilnModelsTests", dependencies: ["KilnModels"], resources: [.copy("Fixtures")]),
    ],
    swiftLanguageModes: [.v6]
)
