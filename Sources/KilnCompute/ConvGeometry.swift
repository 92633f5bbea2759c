/// The sizes of one 2-D convolution over an NCHW batch: input `[batch, inChannels, height, width]`,
/// weight `[outChannels, inChannels / groups, kernelHeight, kernelWidth]`, output
/// `[batch, outChannels, outHeight, outWidth]` (PyTorch's `Conv2d` arithmetic).
package struct Conv2dGeometry: Sendable, Equatable {
    package var batch: Int, inChannels: Int, height: Int, width: Int
    package var outChannels: Int, kernelHeight: Int, kernelWidth: Int
    package var stride: (h: Int, w: Int)
    package var padding: (h: Int, w: Int)
    package var dilation: (h: Int, w: Int)
    package var groups: Int

    package init(batch: Int, inChannels: Int, height: Int, width: Int,
                 outChannels: Int, kernelHeight: Int, kernelWidth: Int,
                 stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int), groups: Int) {
        self.batch = batch; self.inChannels = inChannels; self.height = height; self.width = width
        self.outChannels = outChannels; self.kernelHeight = kernelHeight; self.kernelWidth = kernelWidth
        self.stride = stride; self.padding = padding; self.dilation = dilation; self.groups = groups
    }

    package var outHeight: Int { (height + 2 * padding.h - dilation.h * (kernelHeight - 1) - 1) / stride.h + 1 }
    package var outWidth: Int { (width + 2 * padding.w - dilation.w * (kernelWidth - 1) - 1) / stride.w + 1 }
    /// Input channels per group.
    package var groupInChannels: Int { inChannels / groups }
    /// Output channels per group.
    package var groupOutChannels: Int { outChannels / groups }
    /// Rows of one group's im2col matrix: `groupInChannels · kernelHeight · kernelWidth`.
    package var patchSize: Int { groupInChannels * kernelHeight * kernelWidth }
    /// Output pixels per channel (columns of the im2col matrix).
    package var outPlane: Int { outHeight * outWidth }
    /// Multiply-adds times two of the forward pass.
    package var flops: Int { 2 * batch * outChannels * outPlane * patchSize }
    /// A 1×1, stride-1, unpadded convolution reads its input as the im2col matrix itself.
    package var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && stride == (1, 1) && padding == (0, 0)
    }

    package static func == (a: Conv2dGeometry, b: Conv2dGeometry) -> Bool {
        a.batch == b.batch && a.inChannels == b.inChannels && a.height == b.height && a.width == b.width
            && a.outChannels == b.outChannels && a.kernelHeight == b.kernelHeight && a.kernelWidth == b.kernelWidth
            && a.stride == b.stride && a.padding == b.padding && a.dilation == b.dilation && a.groups == b.groups
    }
}

/// The windows of a 2-D pooling over `planes` (batch × channels) images of `height × width`.
///
/// Regular pooling (`adaptive == false`): window `i` starts at `i·stride − padding` and spans
/// `kernel` (PyTorch's floor-mode output size). Adaptive pooling: window `i` of `out` covers
/// `⌊i·n/out⌋ ..< ⌈(i+1)·n/out⌉` (PyTorch's adaptive bins); kernel, stride and padding are unused.
package struct Pool2dGeometry: Sendable {
    package var planes: Int, height: Int, width: Int
    package var outHeight: Int, outWidth: Int
    package var kernel: (h: Int, w: Int)
    package var stride: (h: Int, w: Int)
    package var padding: (h: Int, w: Int)
    package var adaptive: Bool

    /// A regular (kernel, stride, padding) pooling.
    package init(planes: Int, height: Int, width: Int, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int)) {
        self.planes = planes; self.height = height; self.width = width
        self.kernel = kernel; self.stride = stride; self.padding = padding
        self.outHeight = (height + 2 * padding.0 - kernel.0) / stride.0 + 1
        self.outWidth = (width + 2 * padding.1 - kernel.1) / stride.1 + 1
        self.adaptive = false
    }

    /// An adaptive pooling to `outHeight × outWidth`.
    package init(planes: Int, height: Int, width: Int, adaptiveOutput: (Int, Int)) {
        self.planes = planes; self.height = height; self.width = width
        self.outHeight = adaptiveOutput.0; self.outWidth = adaptiveOutput.1
        self.kernel = (0, 0); self.stride = (1, 1); self.padding = (0, 0)
        self.adaptive = true
    }

    /// One window along an axis: the input range it reads (clipped to the image) and the
    /// divisor of an average over it (PyTorch's `count_include_pad=True`: padding counts,
    /// positions beyond the padding don't; adaptive bins divide by their size).
    package struct Window: Sendable {
        package var lo: Int, hi: Int, extent: Int
    }

    /// The windows along one axis of `size` input elements and `outSize` outputs.
    package func windows(size: Int, outSize: Int, kernel k: Int, stride s: Int, padding p: Int) -> [Window] {
        (0..<outSize).map { i in
            if adaptive {
                let lo = i * size / outSize, hi = ((i + 1) * size + outSize - 1) / outSize
                return Window(lo: lo, hi: hi, extent: hi - lo)
            }
            let start = i * s - p, end = Swift.min(start + k, size + p)
            return Window(lo: Swift.max(start, 0), hi: Swift.min(end, size), extent: end - start)
        }
    }

    package var rowWindows: [Window] {
        windows(size: height, outSize: outHeight, kernel: kernel.h, stride: stride.h, padding: padding.h)
    }
    package var columnWindows: [Window] {
        windows(size: width, outSize: outWidth, kernel: kernel.w, stride: stride.w, padding: padding.w)
    }
}
