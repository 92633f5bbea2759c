import KilnCompute

/// 2-D convolution (cross-correlation, as PyTorch's `conv2d`) of `x` `[N, Cin, H, W]` (or an
/// unbatched `[Cin, H, W]`) with `weight` `[Cout, Cin/groups, kh, kw]` and an optional `bias`
/// `[Cout]`. The output is `[N, Cout, outH, outW]` with
/// `outH = (H + 2·padding.0 − dilation.0·(kh − 1) − 1) / stride.0 + 1` (likewise for the width).
///
/// Gradients flow to `x`, `weight` and `bias`; only the ones that are needed are computed.
public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: (Int, Int) = (1, 1),
                   padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1), groups: Int = 1) -> Tensor {
    if x.rank == 3 {
        return conv2d(x.unsqueezed(axis: 0), weight: weight, bias: bias, stride: stride, padding: padding,
                      dilation: dilation, groups: groups).squeezed(axis: 0)
    }
    precondition(x.rank == 4 && weight.rank == 4,
                 "conv2d: needs input [N, C, H, W] and weight [Cout, Cin/groups, kh, kw], got \(x.shape) and \(weight.shape)")
    precondition(groups >= 1 && x.shape[1] % groups == 0 && weight.shape[0] % groups == 0,
                 "conv2d: \(groups) groups don't divide input channels of \(x.shape) and output channels of \(weight.shape)")
    precondition(weight.shape[1] * groups == x.shape[1],
                 "conv2d: weight \(weight.shape) with \(groups) groups expects \(weight.shape[1] * groups) input channels, input is \(x.shape)")
    precondition(stride.0 >= 1 && stride.1 >= 1 && dilation.0 >= 1 && dilation.1 >= 1 && padding.0 >= 0 && padding.1 >= 0,
                 "conv2d: stride \(stride) and dilation \(dilation) must be ≥ 1, padding \(padding) ≥ 0")
    if let bias {
        precondition(bias.shape == [weight.shape[0]], "conv2d: bias \(bias.shape) should be [\(weight.shape[0])]")
    }
    let g = Conv2dGeometry(
        batch: x.shape[0], inChannels: x.shape[1], height: x.shape[2], width: x.shape[3],
        outChannels: weight.shape[0], kernelHeight: weight.shape[2], kernelWidth: weight.shape[3],
        stride: stride, padding: padding, dilation: dilation, groups: groups)
    precondition(g.outHeight >= 1 && g.outWidth >= 1,
                 "conv2d: kernel \(weight.shape) with dilation \(dilation) is larger than the padded input \(x.shape)")
    let xc = x.contiguous(), wc = weight.contiguous(), bc = bias?.contiguous()
    let out = x.empty([g.batch, g.outChannels, g.outHeight, g.outWidth])
    out.backend.conv2d(xc.view, weight: wc.view, bias: bc?.view, g, into: out.storage)

    let input = xc.detached(), kernel = wc.detached()
    let needX = xc.requiresGrad, needW = wc.requiresGrad, needB = bc?.requiresGrad ?? false
    return out.recorded(from: [xc, wc] + (bc.map { [$0] } ?? [])) { dy in
        let dyc = dy.contiguous()
        let dx = needX ? input.empty(input.shape) : nil
        let dw = needW ? kernel.empty(kernel.shape) : nil
        let db = needB ? kernel.empty([g.outChannels]) : nil
        dyc.backend.conv2dBackward(dyc.view, x: input.view, weight: kernel.view, g,
                                   dx: dx?.storage, dWeight: dw?.storage, dBias: db?.storage)
        return [dx, dw] + (bc == nil ? [] : [db])
    }
}
