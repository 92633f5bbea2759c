import Kiln
import KilnCompute

extension Checker {
    /// `t`'s values in a new device tensor.
    func onDevice(_ t: Tensor) -> Tensor {
        let storage = gpu.allocate(t.count)
        gpu.write(t.scalars, into: StridedView(storage, Layout(contiguous: t.shape)))
        return Tensor(storage: storage, layout: Layout(contiguous: t.shape))
    }
}

// Autograd end to end: small models built from the differentiable ops run forward and backward on
// the CPU and on the device from the same values; the losses and every parameter's gradient must
// agree. Tensors move with the backends' `write`/`read`, so these checks need only the kernels.

extension Checker {
    /// The elements of `t`, read by the backend of the device it is on.
    private func values(of t: Tensor) -> [Float] { t.backend.read(t.view) }

    /// A random leaf tensor that requires gradients.
    private func leaf(_ shape: [Int], _ scale: Float = 1) -> Tensor {
        Tensor(values(shape.reduce(1, *), -scale, scale), shape: shape)
    }

    /// Runs `model` (parameters → scalar loss) on both devices and compares the loss and gradients.
    private func train(_ name: String, _ parameters: [Tensor], tolerance: Float, _ model: ([Tensor]) -> Tensor) {
        let cpuParameters = parameters.map { $0.requiringGrad() }
        let gpuParameters = parameters.map { onDevice($0).requiringGrad() }
        let cpuLoss = model(cpuParameters), gpuLoss = model(gpuParameters)
        cpuLoss.backward()
        gpuLoss.backward()
        compare("\(name): loss", cpu: cpuLoss.scalars, gpu: values(of: gpuLoss), tolerance: tolerance)
        for (i, (c, g)) in zip(cpuParameters, gpuParameters).enumerated() {
            guard let cg = c.grad, let gg = g.grad else {
                require("\(name): gradient of parameter \(i)", c.grad == nil && g.grad == nil, "present on one side only")
                continue
            }
            compare("\(name): gradient of parameter \(i) \(c.shape)", cpu: cg.scalars, gpu: values(of: gg),
                    tolerance: tolerance)
        }
    }

    func checkTraining() {
        let labels16 = (0..<16).map { _ in Int32(random.nextInt(below: 10)) }
        train("MLP", [leaf([16, 20]), leaf([32, 20], 0.3), leaf([32], 0.1), leaf([10, 32], 0.3), leaf([10], 0.1)],
              tolerance: 1e-4) { p in
            let hidden = linear(p[0], weight: p[1], bias: p[2]).gelu()
            return crossEntropy(linear(hidden, weight: p[3], bias: p[4]), labels: labels16, labelSmoothing: 0.1)
        }

        let labels4 = (0..<4).map { _ in Int32(random.nextInt(below: 10)) }
        train("CNN", [leaf([4, 3, 12, 12]), leaf([8, 3, 3, 3], 0.3), leaf([8], 0.1), leaf([8], 0.2), leaf([8], 0.1),
                      leaf([10, 8 * 6 * 6], 0.1), leaf([10], 0.1)], tolerance: 2e-4) { p in
            let c = conv2d(p[0], weight: p[1], bias: p[2], padding: (1, 1))
            let n = batchNorm(c, weight: p[3] + 1, bias: p[4], runningMean: nil, runningVar: nil, training: true, relu: true)
            let pooled = maxPool2d(n, kernelSize: (2, 2)).flattened(startAxis: 1)
            return crossEntropy(linear(pooled, weight: p[5], bias: p[6]), labels: labels4)
        }

        let (batch, time, width, heads) = (2, 8, 32, 4)
        let tokens = (0..<(batch * time)).map { _ in Int32(random.nextInt(below: 11)) }
        train("GPT block", [leaf([batch, time, width]), leaf([width], 0.1), leaf([3 * width, width], 0.2), leaf([3 * width], 0.1),
                            leaf([width, width], 0.2), leaf([4 * width, width], 0.2), leaf([4 * width], 0.1),
                            leaf([width, 4 * width], 0.1), leaf([11, width], 0.2)], tolerance: 2e-4) { p in
            let x = p[0]
            let qkv = linear(layerNorm(x, weight: p[1] + 1, bias: nil), weight: p[2], bias: p[3])
            let attended = x + linear(selfAttention(qkv, heads: heads, causal: true), weight: p[4], bias: nil)
            let mlp = linear(linear(layerNorm(attended, weight: nil, bias: p[1]), weight: p[5], bias: p[6]).gelu(approximate: true),
                             weight: p[7], bias: nil)
            let logits = linear(attended + mlp, weight: p[8], bias: nil).reshaped([batch * time, 11])
            return crossEntropy(logits, labels: tokens)
        }

        // 20 hidden units: one full and one partial block of the interleaved gate layout.
        let (steps, features, hidden) = (5, 6, 20)
        let targets = (0..<3).map { _ in Int32(random.nextInt(below: 4)) }
        let lstmParameters = [leaf([3, steps, features]), leaf([4 * hidden, features], 0.4), leaf([4 * hidden, hidden], 0.4),
                              leaf([4 * hidden], 0.1), leaf([4 * hidden], 0.1), leaf([4, hidden], 0.3)]
        train("LSTM", lstmParameters, tolerance: 2e-4) { p in
            let (output, h, _) = lstm(p[0], weightIH: p[1], weightHH: p[2], biasIH: p[3], biasHH: p[4])
            return crossEntropy(linear(h, weight: p[5], bias: nil), labels: targets) + output.square().mean()
        }
        let ids = (0..<(3 * steps)).map { _ in Int32(random.nextInt(below: 9)) }
        train("LSTM of embedded input", [leaf([9, features])] + lstmParameters.dropFirst(), tolerance: 2e-4) { p in
            let (_, h, c) = lstm(embedding: p[0], indices: ids, shape: [3, steps], weightIH: p[1], weightHH: p[2],
                                 biasIH: p[3], biasHH: p[4])
            return crossEntropy(linear(h, weight: p[5], bias: nil), labels: targets) + c.square().mean()
        }
        train("GRU", [leaf([3, steps, features]), leaf([3 * hidden, features], 0.4), leaf([3 * hidden, hidden], 0.4),
                      leaf([3 * hidden], 0.1), leaf([3 * hidden], 0.1), leaf([4, hidden], 0.3)], tolerance: 2e-4) { p in
            let (_, h) = gru(p[0], weightIH: p[1], weightHH: p[2], biasIH: p[3], biasHH: p[4])
            return crossEntropy(linear(h, weight: p[5], bias: nil), labels: targets)
        }
    }
}
