import Testing
@testable import KilnModels
import KilnNN

/// The profiler is global: these tests run one at a time (other suites' ops run on other threads,
/// which the profiler ignores).
@Suite(.serialized) struct ProfilerTests {
    @Test func disabledProfilerRecordsNothing() {
        let a = Tensor.uniform([4, 3]).requiringGrad(), b = Tensor.uniform([3, 5])
        Profiler.start()
        Profiler.stop()
        #expect(!Profiler.isEnabled)
        let y = a.matmul(b).relu().sum()
        y.backward()
        Profiler.addFLOPs(1)
        Profiler.mark("nothing")
        #expect(Profiler.entries().isEmpty)
    }

    @Test func matmulFLOPsPhasesAndCalls() throws {
        let (m, k, n) = (6, 7, 5)
        let a = Tensor.uniform([m, k]).requiringGrad(), b = Tensor.uniform([k, n]).requiringGrad()
        Profiler.start()
        var loss = a.matmul(b)
        for _ in 0..<2 { loss = loss + a.matmul(b) }
        loss.sum().backward()
        let rows = Profiler.stop()
        let forward = try #require(rows.first { $0.name == "matmul(_:)" && $0.phase == .forward })
        #expect(forward.calls == 3)
        #expect(forward.flops == Double(3 * 2 * m * n * k))
        let backward = try #require(rows.first { $0.name == "matmul(_:)" && $0.phase == .backward })
        #expect(backward.calls == 3)
        #expect(backward.flops == Double(3 * 2 * 2 * m * n * k))  // dA and dB: one product each
        let plus = try #require(rows.first { $0.name == "+(_:_:)" && $0.phase == .backward })
        #expect(plus.calls == 2)
        #expect(rows.contains { $0.name == "sum(axes:keepDims:)" && $0.phase == .forward })
        #expect(!rows.contains { $0.phase == .optimizer && $0.seconds > 0 && $0.name != "(backward engine)" })
        #expect(rows.allSatisfy { $0.seconds >= 0 && $0.calls > 0 })
    }

    @Test func mlpStepProfileAddsUpToTheStep() throws {
        let p = profileBenchmark(.mlp, batchSize: 16, steps: 3, warmup: 1)
        let linearForward = try #require(p.entries.first { $0.name == "linear(_:weight:bias:)" && $0.phase == .forward })
        #expect(linearForward.calls == 3)
        #expect(linearForward.flops == Double(2 * 16 * (784 * 512 + 512 * 512 + 512 * 10)))
        let linearBackward = try #require(p.entries.first { $0.name == "linear(_:weight:bias:)" && $0.phase == .backward })
        #expect(linearBackward.calls == 3)
        // The first layer's input needs no gradient: 2 products for the others, 1 for it.
        #expect(linearBackward.flops == Double(2 * 16 * (784 * 512 + 2 * 512 * 512 + 2 * 512 * 10)))
        let optimizer = try #require(p.entries.first { $0.phase == .optimizer && $0.name == "optimizer step" })
        #expect(optimizer.calls == 1)
        #expect(p.attributedSeconds <= p.stepSeconds * 1.001)
        #expect(p.attributedSeconds >= p.stepSeconds * 0.9)
    }
}

@Test func trainingCostIsProRataOfTheHourlyPrice() {
    let epoch = TrainingCost(units: 60_000, unitsPerSecond: 15_000, hourlyCost: 0.90)
    #expect(abs(epoch.seconds - 4) < 1e-12)
    #expect(abs(epoch.cost - 0.001) < 1e-12)  // 0.90 $/h × 4 s / 3600 s/h
    let million = TrainingCost(units: 1e6, unitsPerSecond: 50_000, hourlyCost: 3.6)
    #expect(abs(million.seconds - 20) < 1e-9 && abs(million.cost - 0.02) < 1e-12)
    #expect(TrainingCost(units: 10, unitsPerSecond: 1, hourlyCost: 0).cost == 0)
}

@Test func epochSizesOfTheWorkloads() {
    #expect(BenchWorkload.all.map(\.epochUnits) == [60_000, 60_000, 50_000, 1_000_000, 1_000_000])
}

/// Training FLOPs per unit against hand counts (multiply-adds × 2, × 3 for training).
@Test func workloadFLOPsMatchHandCounts() throws {
    let conv3x3 = { (hw: Int, cin: Int, cout: Int) in hw * hw * cout * cin * 9 }
    let resnetMACs = conv3x3(32, 3, 16) + 6 * conv3x3(32, 16, 16)
        + conv3x3(16, 16, 32) + 5 * conv3x3(16, 32, 32) + conv3x3(8, 32, 64) + 5 * conv3x3(8, 64, 64) + 64 * 10
    let perLayerGPT = 128 * 384 + 128 * 128 + 2 * 128 * 512 + 2 * 128 * 128  // qkv, proj, MLP, scores + values (T = 128)
    let hand: [String: Int] = [
        "mlp": 784 * 512 + 512 * 512 + 512 * 10,
        "cnn": 26 * 26 * 32 * 9 + 24 * 24 * 64 * 288 + 9216 * 128 + 128 * 10,
        "resnet20": resnetMACs,
        "gpt": 4 * perLayerGPT + 128 * 65,
        "lstm": 64 * 1024 + 256 * 1024 + 256 * 65,
    ]
    for w in BenchWorkload.all {
        let expected = 6 * Double(try #require(hand[w.name]))
        #expect(abs(w.flopsPerUnit - expected) / expected < 0.002, "\(w.name): \(w.flopsPerUnit) vs \(expected)")
    }
}
