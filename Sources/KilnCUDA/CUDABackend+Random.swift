import KilnCompute

// Random fills draw one 64-bit Philox key from the generator per call: the device stream is fixed
// by the generator's state (reproducible from a seed), though it differs from the CPU's stream.

extension CUDABackend {
    private func key(_ generator: RandomGenerator) -> [KernelArgument] {
        let seed = generator.next()
        return [.int32(Int32(bitPattern: UInt32(truncatingIfNeeded: seed))),
                .int32(Int32(bitPattern: UInt32(truncatingIfNeeded: seed >> 32)))]
    }

    package func dropoutMask(count: Int, p: Float, generator: RandomGenerator, into out: Storage) {
        let threshold = UInt32(min(Double(p) * 0x1p24, 0x1p24))
        launch(RandomKernels.source, "kiln_dropout_mask", count: (count + 3) / 4,
               [.pointer(out.deviceAddress), .int64(Int64(count))] + key(generator)
                + [.int32(Int32(bitPattern: threshold)), .float(1 / (1 - p))])
    }

    package func fillUniform(_ out: Storage, count: Int, low: Float, high: Float, generator: RandomGenerator) {
        launch(RandomKernels.source, "kiln_fill_uniform", count: (count + 3) / 4,
               [.pointer(out.deviceAddress), .int64(Int64(count))] + key(generator)
                + [.float(low), .float((high - low) * 0x1p-24)])
    }

    package func fillNormal(_ out: Storage, count: Int, mean: Float, std: Float, generator: RandomGenerator) {
        launch(RandomKernels.source, "kiln_fill_normal", count: (count + 3) / 4,
               [.pointer(out.deviceAddress), .int64(Int64(count))] + key(generator) + [.float(mean), .float(std)])
    }
}
