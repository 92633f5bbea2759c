// swift-tools-version:6.1
// Kernel microbenchmarks of Kiln (ordo-one/benchmark), a separate package so that the normal
// `swift build` / `swift test` of Kiln never fetches or builds the benchmark tooling.
//
//     swift package --package-path Benchmarks/Kernels --allow-writing-to-package-directory benchmark
//
// See Docs/BENCHMARKS.md.
import PackageDescription

let package = Package(
    name: "KilnKernelBenchmarks",
    dependencies: [
        .package(name: "Kiln", path: "../.."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // OpenBLAS's cblas.h for the raw sgemm baseline (Kiln's own CBLAS module is internal to it).
        .systemLibrary(name: "KernelsCBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .executableTarget(
            name: "KilnKernels",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Kiln", package: "Kiln"),
                .product(name: "KilnNN", package: "Kiln"),
                .product(name: "KilnOptim", package: "Kiln"),
                "KernelsCBLAS",
            ],
            path: "Benchmarks/KilnKernels",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
