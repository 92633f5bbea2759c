// Kernel microbenchmarks: each measures one Kiln op (or the raw BLAS call under it) on the shapes
// of the reference workloads. Throughput is in the op's natural unit per second (FLOPs for
// products, elements otherwise); `blackHole` keeps results alive.
import Benchmark
import Kiln
import KilnNN
import KilnOptim
import KernelsCBLAS

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .throughput, .mallocCountTotal],
                                           maxDuration: .seconds(1), maxIterations: 200)
    setThreadCount(2)

    // sgemm on the mlp's first layer (128×784 · 784×512) and a square 512³: Kiln vs raw cblas.
    for (m, k, n) in [(128, 784, 512), (512, 512, 512)] {
        let a = Tensor.uniform([m, k], low: -1, high: 1), b = Tensor.uniform([k, n], low: -1, high: 1)
        Benchmark("sgemm Kiln matmul \(m)×\(k)·\(k)×\(n)") { bm in
            for _ in bm.scaledIterations { blackHole(a.matmul(b)) }
        }
        let x = [Float](repeating: 0.5, count: m * k), y = [Float](repeating: 0.25, count: k * n)
        var c = [Float](repeating: 0, count: m * n)
        Benchmark("sgemm raw cblas \(m)×\(k)·\(k)×\(n) (1 thread: Kiln keeps OpenBLAS single-threaded)") { bm in
            for _ in bm.scaledIterations {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k),
                            1, x, Int32(k), y, Int32(n), 0, &c, Int32(n))
                blackHole(c[0])
            }
        }
    }

    // Element-wise, reductions, softmax on 1M and on the mlp's 128×512 activations.
    let big = Tensor.uniform([1024, 1024], low: -1, high: 1), other = Tensor.uniform([1024, 1024])
    Benchmark("elementwise add 1024×1024") { bm in for _ in bm.scaledIterations { blackHole(big + other) } }
    Benchmark("elementwise relu 1024×1024") { bm in for _ in bm.scaledIterations { blackHole(big.relu()) } }
    Benchmark("elementwise mul broadcast row 1024×1024") { bm in
        let row = Tensor.uniform([1024])
        for _ in bm.scaledIterations { blackHole(big * row) }
    }
    Benchmark("reduce sum all 1024×1024") { bm in for _ in bm.scaledIterations { blackHole(big.sum()) } }
    Benchmark("reduce sum axis 0 1024×1024") { bm in for _ in bm.scaledIterations { blackHole(big.sum(axis: 0)) } }
    Benchmark("softmax rows 4096×128") { bm in
        let s = Tensor.uniform([4096, 128], low: -4, high: 4)
        for _ in bm.scaledIterations { blackHole(s.softmax()) }
    }

    // Convolution forward and forward+backward: the cnn's conv2 (64×32×26×26 → 64×24×24).
    let image = Tensor.uniform([64, 32, 26, 26], low: -1, high: 1)
    let kernel = Parameter(Tensor.uniform([64, 32, 3, 3], low: -0.1, high: 0.1))
    Benchmark("conv2d forward cnn conv2 (no grad)") { bm in
        for _ in bm.scaledIterations { blackHole(noGrad { conv2d(image, weight: kernel.value, bias: nil) }) }
    }
    Benchmark("conv2d forward+backward cnn conv2") { bm in
        for _ in bm.scaledIterations {
            conv2d(image, weight: kernel.value, bias: nil).sum().backward()
            kernel.value.zeroGrad()
        }
    }

    // Layer norm, the gpt's shape (32·128 rows of 128).
    let rows = Tensor.uniform([4096, 128], low: -1, high: 1)
    let gain = Parameter(Tensor.uniform([128]))
    Benchmark("layerNorm forward 4096×128") { bm in
        for _ in bm.scaledIterations { blackHole(noGrad { layerNorm(rows, weight: gain.value, bias: nil) }) }
    }
    Benchmark("layerNorm forward+backward 4096×128") { bm in
        for _ in bm.scaledIterations {
            layerNorm(rows, weight: gain.value, bias: nil).sum().backward()
            gain.value.zeroGrad()
        }
    }

    // Optimizer updates over the mlp's 669,706 parameters, gradients in place.
    let model = Sequential(Linear(784, 512), ReLU(), Linear(512, 512), ReLU(), Linear(512, 10))
    let x = Tensor.uniform([128, 784])
    model(x).sum().backward()
    let adam = Adam(model.parameters(), learningRate: 1e-3)
    Benchmark("Adam step mlp (669,706 parameters)") { bm in for _ in bm.scaledIterations { adam.step() } }
    let sgd = SGD(model.parameters(), learningRate: 0.1, momentum: 0.9, weightDecay: 5e-4)
    Benchmark("SGD momentum step mlp (669,706 parameters)") { bm in for _ in bm.scaledIterations { sgd.step() } }
}
