import Foundation
import Kiln
import KilnOptim
import Testing

/// schedules.json: the learning rate PyTorch's optimizer sees at each step under a scheduler.
struct ScheduleFixture: Decodable {
    struct Case: Decodable, CustomTestStringConvertible {
        var name: String
        var kind: String
        var baseLearningRate: Double
        var stepSize: Int?
        var gamma: Double?
        var tMax: Int?
        var etaMin: Double?
        var warmupSteps: Int?
        var startFactor: Double?
        var learningRates: [Double]

        var testDescription: String { name }

        /// The Kiln schedule this case describes.
        func makeSchedule() throws -> any LRSchedule {
            let base = Float(baseLearningRate)
            switch kind {
            case "stepLR":
                return StepLR(baseLearningRate: base, stepSize: try #require(stepSize),
                              gamma: Float(try #require(gamma)))
            case "cosine":
                return CosineAnnealing(baseLearningRate: base, tMax: try #require(tMax),
                                       etaMin: Float(try #require(etaMin)))
            case "warmupConstant":
                return LinearWarmup(warmupSteps: try #require(warmupSteps),
                                    startFactor: Float(try #require(startFactor)), peak: base)
            case "warmupCosine":
                let cosine = CosineAnnealing(baseLearningRate: base, tMax: try #require(tMax),
                                             etaMin: Float(try #require(etaMin)))
                return LinearWarmup(warmupSteps: try #require(warmupSteps),
                                    startFactor: Float(try #require(startFactor)), then: cosine)
            default:
                Issue.record("unknown schedule kind \(kind)")
                return StepLR(baseLearningRate: base, stepSize: 1)
            }
        }
    }

    var cases: [Case]
}

@Suite("Learning-rate schedules")
struct ScheduleTests {
    @Test("match torch.optim.lr_scheduler step by step",
          arguments: try loadFixture("schedules.json", as: ScheduleFixture.self).cases)
    func matchesPyTorch(_ c: ScheduleFixture.Case) throws {
        let schedule = try c.makeSchedule()
        let rates = (0..<c.learningRates.count).map { schedule.learningRate(at: $0) }
        expectClose(rates, c.learningRates, absolute: 1e-9, c.name)
    }

    @Test("StepLR halves every two steps (by hand)")
    func stepByHand() {
        let schedule = StepLR(baseLearningRate: 0.1, stepSize: 2, gamma: 0.5)
        let rates = (0..<6).map { schedule.learningRate(at: $0) }
        expectClose(rates, [0.1, 0.1, 0.05, 0.05, 0.025, 0.025], "StepLR")
        #expect(StepLR(baseLearningRate: 1, stepSize: 3).gamma == 0.1, "PyTorch's default gamma")
    }

    @Test("cosine annealing at quarter points, and its rise after tMax (by hand)")
    func cosineByHand() {
        let schedule = CosineAnnealing(baseLearningRate: 1, tMax: 4, etaMin: 0.2)
        let rates = (0..<7).map { schedule.learningRate(at: $0) }
        let q = (1 + sqrt(0.5)) / 2  // (1 + cos(π/4)) / 2
        let expected = [1, 0.2 + 0.8 * q, 0.6, 0.2 + 0.8 * (1 - q), 0.2, 0.2 + 0.8 * (1 - q), 0.6]
        expectClose(rates, expected, "CosineAnnealing")
    }

    @Test("linear warm-up from zero to a constant, and into another schedule (by hand)")
    func warmupByHand() {
        let constant = LinearWarmup(warmupSteps: 4, peak: 2)
        expectClose((0..<7).map { constant.learningRate(at: $0) }, [0, 0.5, 1, 1.5, 2, 2, 2],
                    "warm-up to a constant")

        let stepped = LinearWarmup(warmupSteps: 2, startFactor: 0.5,
                                   then: StepLR(baseLearningRate: 1, stepSize: 2, gamma: 0.1))
        expectClose((0..<7).map { stepped.learningRate(at: $0) }, [0.5, 0.75, 1, 1, 0.1, 0.1, 0.01],
                    "warm-up into StepLR")

        let none = LinearWarmup(warmupSteps: 0, then: CosineAnnealing(baseLearningRate: 1, tMax: 2))
        expectClose((0..<3).map { none.learningRate(at: $0) }, [1, 0.5, 0], absolute: 1e-7,
                    "no warm-up")
    }

    @Test("a schedule drives an optimizer's learning rate")
    func drivesOptimizer() {
        let parameter = Parameter(Tensor([0], shape: [1]))
        let optimizer = SGD([parameter], learningRate: 123)
        let schedule = StepLR(baseLearningRate: 1, stepSize: 1, gamma: 0.5)
        for step in 0..<3 {
            parameter.grad = Tensor([1], shape: [1])
            optimizer.learningRate = schedule.learningRate(at: step)
            optimizer.step()
        }
        // p = 0 − (1 + 0.5 + 0.25) · 1
        expectClose(parameter.value.scalars, [-1.75], "parameter after three scheduled steps")
    }
}
