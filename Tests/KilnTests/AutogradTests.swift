@testable import Kiln
import Testing

@Suite struct AutogradTests {
    @Test func tensorUsedTwiceAccumulates() {
        let x = Tensor([1, -2, 3]).requiringGrad()
        (x * x).sum().backward()
        #expect(x.grad?.scalars == [2, -4, 6])
        // Used three times through different ops.
        let y = Tensor([0.5, 2]).requiringGrad()
        (y * y + y * 3 - y.exp()).sum().backward()
        expectClose(y.grad!.scalars, [2 * 0.5 + 3 - expf(0.5), 2 * 2 + 3 - expf(2)], atol: 1e-5)
    }

    @Test func diamond() {
        // x → a = 2x → (b = eᵃ, c = a²) → d = b + c: dd/dx = 2·(eᵃ + 2a).
        let x = Tensor([0.1, -0.3, 0.7]).requiringGrad()
        let a = x * 2
        let d = a.exp() + a.square()
        d.sum().backward()
        let expected = x.scalars.map { 2 * (expf(2 * $0) + 4 * $0) }
        expectClose(x.grad!.scalars, expected, atol: 1e-5)
        // Inner nodes keep no gradient after the pass.
        #expect(a.grad == nil && d.grad == nil)
    }

    @Test func gradientsAccumulateAcrossBackwardUntilZeroGrad() {
        let x = Tensor([1, 2]).requiringGrad()
        (x * 3).sum().backward()
        #expect(x.grad?.scalars == [3, 3])
        (x.square()).sum().backward()
        #expect(x.grad?.scalars == [5, 7])
        x.zeroGrad()
        #expect(x.grad == nil)
        (x * -1).sum().backward()
        #expect(x.grad?.scalars == [-1, -1])

        let p = Parameter(Tensor([1, 2, 3]))
        (p.value * 2).sum().backward()
        (p.value * 2).sum().backward()
        #expect(p.grad?.scalars == [4, 4, 4])
        p.zeroGrad()
        #expect(p.grad == nil)
    }

    @Test func noGradRecordsNothing() {
        let x = Tensor([1, 2]).requiringGrad()
        let y = noGrad { (x * x).exp().sum() }
        #expect(!y.requiresGrad)
        noGrad { #expect(!GradMode.isEnabled) }
        #expect(GradMode.isEnabled)
        // Outside the scope recording resumes.
        #expect((x * x).requiresGrad)
        // Nothing reaches x from ops that were not recorded.
        let z = x * 2 + noGrad { x * 100 }
        z.sum().backward()
        #expect(x.grad?.scalars == [2, 2])
    }

    @Test func detachedCutsTheGraph() {
        let x = Tensor([1, 2, 3]).requiringGrad()
        let d = x.detached()
        #expect(!d.requiresGrad)
        #expect(d.sharesStorage(with: x))
        (x * d).sum().backward()  // d is a constant here: gradient is d, not 2x
        #expect(x.grad?.scalars == [1, 2, 3])
    }

    @Test func onlyTensorsThatAskForGradientsGetThem() {
        let a = Tensor([1, 2]), b = Tensor([3, 4]).requiringGrad()
        #expect(!(a + a).requiresGrad)
        #expect((a + b).requiresGrad)
        (a * b).sum().backward()
        #expect(a.grad == nil)
        #expect(b.grad?.scalars == [1, 2])
    }

    @Test func explicitSeedGradient() {
        let x = Tensor([1, 2, 3]).requiringGrad()
        let y = x * 2
        y.backward(Tensor([1, 10, 100]))
        #expect(x.grad?.scalars == [2, 20, 200])
        // A leaf as the root gets the seed itself, in storage of its own.
        let seed = Tensor([5, 6])
        let leaf = Tensor([0, 0]).requiringGrad()
        leaf.backward(seed)
        #expect(leaf.grad?.scalars == [5, 6])
        #expect(leaf.grad.map { !$0.sharesStorage(with: seed) } == true)
    }

    @Test func leafGradientsNeverAlias() {
        // p1 + p2 hands the same gradient tensor to both inputs.
        let p1 = Parameter(Tensor([1, 2, 3])), p2 = Parameter(Tensor([4, 5, 6]))
        (p1.value + p2.value).sum().backward()
        let g1 = p1.grad!, g2 = p2.grad!
        #expect(!g1.sharesStorage(with: g2))
        g1.withUnsafeMutableBufferPointer { $0[0] = 42 }
        #expect(p2.grad?.scalars == [1, 1, 1])
        #expect(p1.grad?.scalars == [42, 1, 1])

        // Through views: a reshape of one gradient must not be another leaf's gradient.
        let a = Tensor([1, 2, 3, 4]).requiringGrad(), b = Tensor([1, 2, 3, 4], shape: [2, 2]).requiringGrad()
        (a.reshaped([2, 2]) + b).sum().backward()
        #expect(!a.grad!.sharesStorage(with: b.grad!))
        // And not the seed of the pass either.
        let c = Tensor([1, 2]).requiringGrad()
        let seed = Tensor([3, 4])
        (c + 0).backward(seed)
        #expect(!c.grad!.sharesStorage(with: seed))
    }

    @Test func backwardFreesTheGraph() {
        let x = Tensor([1, 2]).requiringGrad()
        let y = (x * 2).exp()
        let node = y.node!
        #expect(node.pullback != nil)
        y.sum().backward()
        #expect(node.pullback == nil)
        // The leaf stays a leaf and keeps its gradient.
        #expect(x.node?.isLeaf == true && x.grad != nil)
    }

    @Test func requiringGradOnAnInput() {
        // Gradients with respect to the data, not a parameter (saliency, adversarial inputs).
        let w = Tensor([1, -1, 2, 0.5, 3, -2], shape: [3, 2])
        let input = Tensor([0.5, 0.25], shape: [1, 2]).requiringGrad()
        let out = input.matmul(w.transposed()).tanh().sum()
        out.backward()
        let h = (input.detached().matmul(w.transposed())).scalars
        let expected = (0..<2).map { j in
            (0..<3).reduce(Float(0)) { $0 + (1 - tanhf(h[$1]) * tanhf(h[$1])) * w.scalars[$1 * 2 + j] }
        }
        expectClose(input.grad!.scalars, expected, atol: 1e-6)
    }

    @Test func longChainsDontOverflowTheStack() {
        let x = Tensor([1]).requiringGrad()
        var y = x
        for _ in 0..<20_000 { y = y + 0 }
        y.sum().backward()
        #expect(x.grad?.scalars == [1])
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
