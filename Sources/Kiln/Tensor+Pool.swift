import KilnCompute

/// The pooling geometry of `x` `[N, C, H, W]` after checking the arguments (PyTorch's rules).
private func poolGeometry(_ op: String, _ x: Tensor, kernelSize: (Int, Int), stride: (Int, Int)?,
                          padding: (Int, Int)) -> Pool2dGeometry {
    precondition(x.rank == 4, "\(op): needs input [N, C, H, W], got \(x.shape)")
    let stride = stride ?? kernelSize
    precondition(kernelSize.0 >= 1 && kernelSize.1 >= 1 && stride.0 >= 1 && stride.1 >= 1,
                 "\(op): kernel size \(kernelSize) and stride \(stride) must be ≥ 1")
    precondition(padding.0 >= 0 && padding.1 >= 0 && 2 * padding.0 <= kernelSize.0 && 2 * padding.1 <= kernelSize.1,
                 "\(op): padding \(padding) must be between 0 and half the kernel size \(kernelSize)")
    let g = Pool2dGeometry(planes: x.shape[0] * x.shape[1], height: x.shape[2], width: x.shape[3],
                           kernel: kernelSize, stride: stride, padding: padding)
    precondition(g.outHeight >= 1 && g.outWidth >= 1,
                 "\(op): kernel \(kernelSize) is larger than the padded input \(x.shape)")
    return g
}

/// Runs a pooling kernel on a 4-D view of `x` (an unbatched `[C, H, W]` input gets a batch axis).
private func batched(_ x: Tensor, _ body: (Tensor) -> Tensor) -> Tensor {
    x.rank == 3 ? body(x.unsqueezed(axis: 0)).squeezed(axis: 0) : body(x)
}

/// Max over each `kernelSize` window of `x` `[N, C, H, W]` (stride defaults to the kernel size;
/// padding counts as −∞). The index of each window's maximum is kept for backward, which routes
/// the gradient to it alone.
public func maxPool2d(_ x: Tensor, kernelSize: (Int, Int), stride: (Int, Int)? = nil,
                      padding: (Int, Int) = (0, 0)) -> Tensor {
    batched(x) { x in
        let g = poolGeometry("maxPool2d", x, kernelSize: kernelSize, stride: stride, padding: padding)
        let xc = x.contiguous()
        let outShape = [x.shape[0], x.shape[1], g.outHeight, g.outWidth]
        let out = x.empty(outShape), indices = x.empty(outShape)
        out.backend.maxPool2d(xc.view, g, into: out.storage, indices: indices.storage)
        let inputShape = x.shape
        return out.recorded(from: [xc]) { dy in
            let dyc = dy.contiguous()
            let dx = dyc.empty(inputShape)
            dx.backend.maxPool2dBackward(dyc.view, indices: indices.storage, g, into: dx.storage)
            return [dx]
        }
    }
}

/// Mean over each `kernelSize` window of `x` `[N, C, H, W]` (stride defaults to the kernel size).
/// Zero padding counts in the divisor (PyTorch's `count_include_pad=True`).
public func avgPool2d(_ x: Tensor, kernelSize: (Int, Int), stride: (Int, Int)? = nil,
                      padding: (Int, Int) = (0, 0)) -> Tensor {
    batched(x) { x in
        averagePool(x, poolGeometry("avgPool2d", x, kernelSize: kernelSize, stride: stride, padding: padding))
    }
}

/// Mean over PyTorch's adaptive bins: output cell `(i, j)` of `outputSize` averages input rows
/// `⌊i·H/outH⌋ ..< ⌈(i+1)·H/outH⌉` (likewise columns). `(1, 1)` is global average pooling.
public func adaptiveAvgPool2d(_ x: Tensor, outputSize: (Int, Int)) -> Tensor {
    batched(x) { x in
        precondition(x.rank == 4, "adaptiveAvgPool2d: needs input [N, C, H, W], got \(x.shape)")
        precondition(outputSize.0 >= 1 && outputSize.1 >= 1, "adaptiveAvgPool2d: output size \(outputSize) must be ≥ 1")
        let g = Pool2dGeometry(planes: x.shape[0] * x.shape[1], height: x.shape[2], width: x.shape[3],
                               adaptiveOutput: outputSize)
        return averagePool(x, g)
    }
}

private func averagePool(_ x: Tensor, _ g: Pool2dGeometry) -> Tensor {
    let xc = x.contiguous()
    let out = x.empty([x.shape[0], x.shape[1], g.outHeight, g.outWidth])
    out.backend.avgPool2d(xc.view, g, into: out.storage)
    let inputShape = x.shape
    return out.recorded(from: [xc]) { dy in
        let dyc = dy.contiguous()
        let dx = dyc.empty(inputShape)
        dx.backend.avgPool2dBackward(dyc.view, g, into: dx.storage)
        return [dx]
    }
}
