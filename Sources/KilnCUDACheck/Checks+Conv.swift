import KilnCompute
import KilnCUDA

extension Checker {
    func checkConvolutions() {
        let geometries: [(String, Conv2dGeometry)] = [
            ("3×3 same", Conv2dGeometry(batch: 3, inChannels: 4, height: 9, width: 11, outChannels: 6, kernelHeight: 3,
                                        kernelWidth: 3, stride: (1, 1), padding: (1, 1), dilation: (1, 1), groups: 1)),
            ("3×2 strided dilated grouped", Conv2dGeometry(batch: 2, inChannels: 6, height: 10, width: 8, outChannels: 4,
                                                           kernelHeight: 3, kernelWidth: 2, stride: (2, 1), padding: (1, 0),
                                                           dilation: (2, 1), groups: 2)),
            ("1×1 pointwise", Conv2dGeometry(batch: 2, inChannels: 5, height: 7, width: 7, outChannels: 3, kernelHeight: 1,
                                             kernelWidth: 1, stride: (1, 1), padding: (0, 0), dilation: (1, 1), groups: 1)),
            ("3×3 depthwise stride 2", Conv2dGeometry(batch: 2, inChannels: 4, height: 9, width: 9, outChannels: 4,
                                                      kernelHeight: 3, kernelWidth: 3, stride: (2, 2), padding: (2, 2),
                                                      dilation: (1, 1), groups: 4)),
            ("5×5 wide same", Conv2dGeometry(batch: 2, inChannels: 8, height: 12, width: 30, outChannels: 16, kernelHeight: 5,
                                             kernelWidth: 5, stride: (1, 1), padding: (2, 2), dilation: (1, 1), groups: 1)),
        ]
        // 7 samples with room for the column matrix of 2 at a time: chunks of 2, 2, 2 and 1.
        let chunked = Conv2dGeometry(batch: 7, inChannels: 3, height: 6, width: 5, outChannels: 4, kernelHeight: 3,
                                     kernelWidth: 3, stride: (1, 1), padding: (1, 1), dilation: (1, 1), groups: 1)
        for (name, g) in geometries + [("3×3 in chunks of 2 samples", chunked)] {
            let budget = CUDABackend.columnBudget
            if g == chunked { CUDABackend.columnBudget = 2 * g.patchSize * g.outPlane }
            defer { CUDABackend.columnBudget = budget }
            let inCount = g.batch * g.inChannels * g.height * g.width
            let outCount = g.batch * g.outChannels * g.outPlane, weightCount = g.outChannels * g.patchSize
            let x = twin(values(inCount)), w = twin(values(weightCount, -0.5, 0.5)), b = twin(values(g.outChannels))
            let xShape = [g.batch, g.inChannels, g.height, g.width]
            let wShape = [g.outChannels, g.groupInChannels, g.kernelHeight, g.kernelWidth]
            for useBias in [true, false] {
                let y = output(outCount)
                cpu.conv2d(x.view(xShape).cpu, weight: w.view(wShape).cpu, bias: useBias ? b.view([g.outChannels]).cpu : nil,
                           g, into: y.cpu)
                gpu.conv2d(x.view(xShape).gpu, weight: w.view(wShape).gpu, bias: useBias ? b.view([g.outChannels]).gpu : nil,
                           g, into: y.gpu)
                compare("conv2d \(name) bias \(useBias)", y, tolerance: 2e-5)
            }
            let yShape = [g.batch, g.outChannels, g.outHeight, g.outWidth]
            let dy = twin(values(outCount))
            for (wantX, wantW) in [(true, true), (true, false), (false, true)] {
                let dx = output(inCount), dw = output(weightCount), db = output(g.outChannels)
                cpu.conv2dBackward(dy.view(yShape).cpu, x: x.view(xShape).cpu, weight: w.view(wShape).cpu, g,
                                   dx: wantX ? dx.cpu : nil, dWeight: wantW ? dw.cpu : nil, dBias: db.cpu)
                gpu.conv2dBackward(dy.view(yShape).gpu, x: x.view(xShape).gpu, weight: w.view(wShape).gpu, g,
                                   dx: wantX ? dx.gpu : nil, dWeight: wantW ? dw.gpu : nil, dBias: db.gpu)
                let label = "conv2dBackward \(name) dx \(wantX) dWeight \(wantW)"
                compare("\(label): dx", dx, tolerance: 5e-5)
                compare("\(label): dWeight", dw, tolerance: 5e-5)
                compare("\(label): dBias", db, tolerance: 5e-5)
            }
        }
    }

    func checkPooling() {
        let (planes, h, w) = (6, 10, 9)
        let x = twin(values(planes * h * w))
        let regular: [(String, Pool2dGeometry)] = [
            ("2×2 stride 2", Pool2dGeometry(planes: planes, height: h, width: w, kernel: (2, 2), stride: (2, 2), padding: (0, 0))),
            ("3×3 stride 2 pad 1", Pool2dGeometry(planes: planes, height: h, width: w, kernel: (3, 3), stride: (2, 2), padding: (1, 1))),
            ("3×2 stride 1", Pool2dGeometry(planes: planes, height: h, width: w, kernel: (3, 2), stride: (1, 1), padding: (0, 0))),
        ]
        for (name, g) in regular {
            let outCount = planes * g.outHeight * g.outWidth
            let y = output(outCount), index = output(outCount)
            cpu.maxPool2d(x.view([planes, h, w]).cpu, g, into: y.cpu, indices: index.cpu)
            gpu.maxPool2d(x.view([planes, h, w]).gpu, g, into: y.gpu, indices: index.gpu)
            compare("maxPool2d \(name)", y, tolerance: 0)
            compare("maxPool2d \(name): indices", index, tolerance: 0)
            let dy = twin(values(outCount)), dx = output(planes * h * w), winners = twin(host(index.cpu, outCount))
            cpu.maxPool2dBackward(dy.view([outCount]).cpu, indices: winners.cpu, g, into: dx.cpu)
            gpu.maxPool2dBackward(dy.view([outCount]).gpu, indices: winners.gpu, g, into: dx.gpu)
            compare("maxPool2dBackward \(name)", dx, tolerance: 1e-6)
        }
        let averages = regular + [
            ("adaptive 3×4", Pool2dGeometry(planes: planes, height: h, width: w, adaptiveOutput: (3, 4))),
            ("adaptive global", Pool2dGeometry(planes: planes, height: h, width: w, adaptiveOutput: (1, 1))),
        ]
        for (name, g) in averages {
            let outCount = planes * g.outHeight * g.outWidth
            let y = output(outCount)
            cpu.avgPool2d(x.view([planes, h, w]).cpu, g, into: y.cpu)
            gpu.avgPool2d(x.view([planes, h, w]).gpu, g, into: y.gpu)
            compare("avgPool2d \(name)", y, tolerance: 1e-6)
            let dy = twin(values(outCount)), dx = output(planes * h * w)
            cpu.avgPool2dBackward(dy.view([outCount]).cpu, g, into: dx.cpu)
            gpu.avgPool2dBackward(dy.view([outCount]).gpu, g, into: dx.gpu)
            compare("avgPool2dBackward \(name)", dx, tolerance: 1e-6)
        }
    }

    func checkBatchNorm() {
        for (batch, channels, spatial) in [(8, 5, 6), (16, 7, 1)] {
            let count = batch * channels * spatial, shape = [batch, channels, spatial]
            // A mean far from 0 tests the shifted sums.
            let x = twin(values(count, 9, 11)), w = twin(values(channels, 0.5, 1.5)), b = twin(values(channels))
            for training in [true, false] {
                let runningMean = twin(values(channels)), runningVar = twin(values(channels, 0.5, 2))
                let y = output(count), mean = output(channels), invStd = output(channels)
                cpu.batchNorm(x.view(shape).cpu, batch: batch, channels: channels, spatial: spatial,
                              weight: w.view([channels]).cpu, bias: b.view([channels]).cpu,
                              runningMean: runningMean.view([channels]).cpu, runningVar: runningVar.view([channels]).cpu,
                              training: training, momentum: 0.1, epsilon: 1e-5, into: y.cpu, saveMean: mean.cpu,
                              saveInvStd: invStd.cpu)
                gpu.batchNorm(x.view(shape).gpu, batch: batch, channels: channels, spatial: spatial,
                              weight: w.view([channels]).gpu, bias: b.view([channels]).gpu,
                              runningMean: runningMean.view([channels]).gpu, runningVar: runningVar.view([channels]).gpu,
                              training: training, momentum: 0.1, epsilon: 1e-5, into: y.gpu, saveMean: mean.gpu,
                              saveInvStd: invStd.gpu)
                let label = "batchNorm \(shape) \(training ? "training" : "evaluation")"
                compare("\(label): y", y, tolerance: 2e-5)
                compare("\(label): saved mean", mean, tolerance: 1e-6)
                compare("\(label): saved 1/std", invStd, tolerance: 2e-5)
                compare("\(label): running mean", runningMean, tolerance: 1e-6)
                compare("\(label): running variance", runningVar, tolerance: 2e-5)

                let m = twin(host(mean.cpu, channels)), s = twin(host(invStd.cpu, channels)), dy = twin(values(count))
                let dx = output(count), dw = output(channels), db = output(channels)
                cpu.batchNormBackward(dy.view(shape).cpu, x: x.view(shape).cpu, batch: batch, channels: channels,
                                      spatial: spatial, weight: w.view([channels]).cpu, saveMean: m.cpu, saveInvStd: s.cpu,
                                      training: training, dx: dx.cpu, dWeight: dw.cpu, dBias: db.cpu)
                gpu.batchNormBackward(dy.view(shape).gpu, x: x.view(shape).gpu, batch: batch, channels: channels,
                                      spatial: spatial, weight: w.view([channels]).gpu, saveMean: m.gpu, saveInvStd: s.gpu,
                                      training: training, dx: dx.gpu, dWeight: dw.gpu, dBias: db.gpu)
                compare("\(label) backward: dx", dx, tolerance: 5e-5)
                compare("\(label) backward: dWeight", dw, tolerance: 5e-5)
                compare("\(label) backward: dBias", db, tolerance: 5e-5)
            }
        }
    }
}
