import Kiln
import KilnCompute
import Testing

/// Convolution values against naive loops written here, in Double: forward (the 7-loop
/// definition) and backward (its adjoint), on shapes that exercise every kernel path: padding
/// edges, strides, dilation, groups, 1×1, bands of output rows, and the batch split over threads.
@Suite struct ConvReferenceTests {
    struct Case {
        var x: [Int], cout: Int, kernel: (Int, Int)
        var stride = (1, 1), padding = (0, 0), dilation = (1, 1), groups = 1, bias = true
    }

    /// `y[n, co, oy, ox] = b[co] + Σ_{ci, ky, kx} x[n, g·cin/g + ci, oy·s + ky·d − p, ox·s + kx·d − p] · w[co, ci, ky, kx]`.
    static func naiveForward(_ x: Tensor, _ w: Tensor, _ b: Tensor?, _ c: Case) -> [Float] {
        let (n, cin, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (cout, cinG, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        let oh = (h + 2 * c.padding.0 - c.dilation.0 * (kh - 1) - 1) / c.stride.0 + 1
        let ow = (wd + 2 * c.padding.1 - c.dilation.1 * (kw - 1) - 1) / c.stride.1 + 1
        let coutG = cout / c.groups
        let xs = x.scalars, ws = w.scalars, bs = b?.scalars
        var y = [Float](repeating: 0, count: n * cout * oh * ow)
        for s in 0..<n {
            for co in 0..<cout {
                let g = co / coutG
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        var acc = Double(bs?[co] ?? 0)
                        for ci in 0..<cinG {
                            for ky in 0..<kh {
                                for kx in 0..<kw {
                                    let iy = oy * c.stride.0 + ky * c.dilation.0 - c.padding.0
                                    let ix = ox * c.stride.1 + kx * c.dilation.1 - c.padding.1
                                    guard iy >= 0 && iy < h && ix >= 0 && ix < wd else { continue }
                                    let xv = xs[((s * cin + g * cinG + ci) * h + iy) * wd + ix]
                                    acc += Double(xv) * Double(ws[((co * cinG + ci) * kh + ky) * kw + kx])
                                }
                            }
                        }
                        y[((s * cout + co) * oh + oy) * ow + ox] = Float(acc)
                    }
                }
            }
        }
        return y
    }

    /// The adjoint of `naiveForward` for the loss Σ y·dy: (dx, dw, db).
    static func naiveBackward(_ x: Tensor, _ w: Tensor, _ dy: Tensor, _ c: Case) -> ([Float], [Float], [Float]) {
        let (n, cin, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (cout, cinG, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        let (oh, ow) = (dy.shape[2], dy.shape[3])
        let coutG = cout / c.groups
        let xs = x.scalars, ws = w.scalars, gs = dy.scalars
        var dx = [Double](repeating: 0, count: xs.count), dw = [Double](repeating: 0, count: ws.count)
        var db = [Double](repeating: 0, count: cout)
        for s in 0..<n {
            for co in 0..<cout {
                let g = co / coutG
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        let gv = Double(gs[((s * cout + co) * oh + oy) * ow + ox])
                        db[co] += gv
                        for ci in 0..<cinG {
                            for ky in 0..<kh {
                                for kx in 0..<kw {
                                    let iy = oy * c.stride.0 + ky * c.dilation.0 - c.padding.0
                                    let ix = ox * c.stride.1 + kx * c.dilation.1 - c.padding.1
                                    guard iy >= 0 && iy < h && ix >= 0 && ix < wd else { continue }
                                    let xi = ((s * cin + g * cinG + ci) * h + iy) * wd + ix
                                    let wi = ((co * cinG + ci) * kh + ky) * kw + kx
                                    dx[xi] += gv * Double(ws[wi])
                                    dw[wi] += gv * Double(xs[xi])
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dx.map(Float.init), dw.map(Float.init), db.map(Float.init))
    }

    static let cases: [(String, Case)] = [
        ("3×3 valid", Case(x: [2, 3, 7, 6], cout: 4, kernel: (3, 3))),
        ("3×3 same padding, no bias", Case(x: [2, 3, 6, 6], cout: 5, kernel: (3, 3), padding: (1, 1), bias: false)),
        // 32 output channels without "same" padding: dx by col2im (contiguous rows when the width
        // is kept); otherwise by the transposed convolution.
        ("3×3, 32 outputs, width kept", Case(x: [2, 3, 5, 6], cout: 32, kernel: (3, 3), padding: (0, 1))),
        ("3×3, 32 outputs, unpadded", Case(x: [2, 3, 5, 6], cout: 32, kernel: (3, 3))),
        ("3×3, 32 outputs, same padding", Case(x: [1, 3, 5, 6], cout: 32, kernel: (3, 3), padding: (1, 1))),
        ("stride 2, padding 1", Case(x: [2, 2, 9, 8], cout: 3, kernel: (3, 3), stride: (2, 2), padding: (1, 1))),
        ("stride 2, wide rows (vector gathers)", Case(x: [2, 3, 12, 21], cout: 4, kernel: (3, 3), stride: (2, 2), padding: (1, 1))),
        ("stride 2 across, dilation 2 across, groups 2", Case(x: [2, 4, 7, 11], cout: 4, kernel: (3, 3), stride: (1, 2),
                                                             padding: (1, 3), dilation: (1, 2), groups: 2)),
        ("dilation 2, padding 2", Case(x: [1, 2, 8, 7], cout: 3, kernel: (3, 3), padding: (2, 2), dilation: (2, 2))),
        ("groups 2, rectangular", Case(x: [2, 4, 6, 7], cout: 6, kernel: (2, 3), stride: (2, 1), padding: (1, 2),
                                       dilation: (1, 2), groups: 2)),
        ("depthwise", Case(x: [2, 3, 5, 5], cout: 3, kernel: (3, 3), padding: (1, 1), groups: 3)),
        ("1×1", Case(x: [2, 5, 4, 3], cout: 4, kernel: (1, 1))),
        ("1×1 stride 2", Case(x: [2, 5, 5, 4], cout: 3, kernel: (1, 1), stride: (2, 2))),
        ("padding wider than the kernel reach", Case(x: [1, 2, 3, 3], cout: 2, kernel: (2, 2), padding: (3, 2))),
        ("5×5 padding 2 (wrapped columns)", Case(x: [1, 2, 6, 9], cout: 3, kernel: (5, 5), padding: (2, 2))),
        // A 282 KB patch matrix per sample: im2col runs in bands of rows.
        ("banded im2col", Case(x: [1, 7, 56, 20], cout: 8, kernel: (3, 3), padding: (1, 1))),
        // Wide images with 8 or more input channels: shifted copies of the padded input.
        ("shifted copies, same padding", Case(x: [2, 8, 7, 32], cout: 6, kernel: (3, 3), padding: (1, 1))),
        ("shifted copies, unpadded, no bias", Case(x: [2, 9, 6, 26], cout: 5, kernel: (3, 3), bias: false)),
        // 8 to 31 output channels: dx is the transposed convolution, also from shifted copies.
        ("shifted copies both ways, same padding", Case(x: [1, 8, 5, 28], cout: 8, kernel: (3, 3), padding: (1, 1))),
        ("shifted copies both ways, unpadded", Case(x: [1, 8, 6, 26], cout: 9, kernel: (3, 3))),
        ("shifted copies, dilation 2, 3×5", Case(x: [1, 8, 9, 30], cout: 4, kernel: (3, 5), padding: (2, 3), dilation: (2, 2))),
    ]

    static func inputs(_ c: Case, seed: UInt64) -> (Tensor, Tensor, Tensor?) {
        let x = random(c.x, seed: seed)
        let w = random([c.cout, c.x[1] / c.groups, c.kernel.0, c.kernel.1], seed: seed + 1)
        let b = c.bias ? random([c.cout], seed: seed + 2) : nil
        return (x, w, b)
    }

    @Test(arguments: cases)
    func forwardMatchesSevenLoops(_ name: String, _ c: Case) {
        let (x, w, b) = Self.inputs(c, seed: 10)
        let y = conv2d(x, weight: w, bias: b, stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups)
        let expected = Self.naiveForward(x, w, b, c)
        #expect(y.count == expected.count, "\(name): shape \(y.shape)")
        expectClose(y.scalars, expected, atol: 1e-5, rtol: 1e-5, name)
    }

    @Test(arguments: cases)
    func backwardMatchesTheAdjointLoops(_ name: String, _ c: Case) {
        let (x0, w0, b0) = Self.inputs(c, seed: 20)
        let x = x0.requiringGrad(), w = w0.requiringGrad(), b = b0?.requiringGrad()
        let y = conv2d(x, weight: w, bias: b, stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups)
        let dy = random(y.shape, seed: 21)
        (y * dy).sum().backward()
        let (dx, dw, db) = Self.naiveBackward(x0, w0, dy, c)
        expectClose(x.grad!.scalars, dx, atol: 1e-5, rtol: 1e-5, "\(name): dx")
        expectClose(w.grad!.scalars, dw, atol: 1e-4, rtol: 1e-5, "\(name): dw")
        if let b { expectClose(b.grad!.scalars, db, atol: 1e-4, rtol: 1e-5, "\(name): db") }
    }

    @Test func onlyTheNeededGradientsAreComputed() {
        let x = random([2, 2, 5, 5], seed: 30), w = random([3, 2, 3, 3], seed: 31).requiringGrad()
        let y = conv2d(x, weight: w, bias: nil)
        y.sum().backward()
        #expect(w.grad != nil && x.grad == nil)
        // Without any input that requires a gradient nothing is recorded.
        #expect(!conv2d(x, weight: random([3, 2, 3, 3], seed: 32), bias: nil).requiresGrad)
    }

    @Test func emptyBatch() {
        let x = Tensor.zeros([0, 2, 5, 5]).requiringGrad(), w = random([3, 2, 3, 3], seed: 33).requiringGrad()
        let b = random([3], seed: 34).requiringGrad()
        let y = conv2d(x, weight: w, bias: b, padding: (1, 1))
        #expect(y.shape == [0, 3, 5, 5])
        y.sum().backward()
        #expect(w.grad!.scalars.allSatisfy { $0 == 0 } && b.grad!.scalars.allSatisfy { $0 == 0 })
    }

    @Test func unbatchedInputAndNonContiguousViews() {
        let c = Case(x: [1, 3, 6, 5], cout: 4, kernel: (3, 3), padding: (1, 1))
        let (x, w, b) = Self.inputs(c, seed: 40)
        let expected = Self.naiveForward(x, w, b, c)
        let unbatched = conv2d(x[0], weight: w, bias: b, padding: (1, 1))
        #expect(unbatched.shape == [4, 6, 5])
        expectClose(unbatched.scalars, expected, atol: 1e-5, "unbatched")
        // The same input stored transposed (H and W swapped) and viewed back.
        let stored = x.transposed(2, 3).contiguous()
        expectClose(conv2d(stored.transposed(2, 3), weight: w, bias: b, padding: (1, 1)).scalars, expected,
                    atol: 1e-5, "transposed view")
    }

    /// The batch split over two threads gives the single-threaded values: exactly for the output
    /// and the input gradient (each sample is computed alike), within rounding for the weight and
    /// bias gradients (per-thread partial sums are added in a different order).
    @Test(arguments: [[4, 16, 16, 16], [4, 16, 8, 32]])   // im2col; shifted copies (wide)
    func twoThreadsMatchOne(_ shape: [Int]) {
        let previous = threadCount()
        defer { setThreadCount(previous) }
        // 2·4·16·256·144 ≈ 4.7 MFLOP forward: above the threshold for splitting the batch.
        let x0 = random(shape, seed: 50), w0 = random([16, 16, 3, 3], seed: 51)
        let b0 = random([16], seed: 52), dy = random(shape, seed: 53)
        func run() -> (y: [Float], dx: [Float], dw: [Float], db: [Float]) {
            let x = x0.requiringGrad(), w = w0.requiringGrad(), b = b0.requiringGrad()
            let y = conv2d(x, weight: w, bias: b, padding: (1, 1))
            (y * dy).sum().backward()
            return (y.scalars, x.grad!.scalars, w.grad!.scalars, b.grad!.scalars)
        }
        setThreadCount(1)
        let one = run()
        setThreadCount(2)
        let two = run()
        #expect(one.y == two.y)
        #expect(one.dx == two.dx)
        expectClose(two.dw, one.dw, atol: 1e-4, rtol: 1e-5, "dw")
        expectClose(two.db, one.db, atol: 1e-4, rtol: 1e-5, "db")
    }
}
