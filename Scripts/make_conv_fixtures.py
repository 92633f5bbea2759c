#!/usr/bin/env python3
"""Generate the PyTorch reference fixtures for Kiln's convolution and batch-norm tests.

Run from the repository root:

    python3 Scripts/make_conv_fixtures.py

It writes two JSON files into Tests/KilnNNTests/Fixtures/ (committed, so the Swift tests never
need PyTorch):

- conv_conv2d.json: torch.nn.functional.conv2d cases (stride, padding, dilation, groups, with and
  without bias). Each case stores the input, weight, bias, an upstream gradient `dy`, and
  PyTorch's output and gradients of input, weight and bias for the loss sum(y * dy).
- conv_batchnorm.json: torch.nn.BatchNorm1d/2d cases. Each runs `steps` training-mode forward
  passes on the stored inputs (recording the output and the input/weight/bias gradients of
  sum(y * dy) for the last one, and the running statistics after every step), then one
  evaluation-mode forward on `evalInput`.

Inputs are drawn from a seeded torch.Generator and stored in the file, so Kiln starts from the
same float32 values. Every float is written as the shortest decimal that reads back as the same
float32 value. Keep the shapes small: the files are read by every test run.
"""

import json
import os

import numpy as np
import torch
import torch.nn.functional as F

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                       "Tests", "KilnNNTests", "Fixtures")


def f32(v):
    """The float32 `v` as the Python float of its shortest round-trip decimal (short JSON)."""
    return float(repr(np.float32(v)).removeprefix("np.float32(").removesuffix(")"))


def flat(t):
    return [f32(v) for v in t.detach().reshape(-1).tolist()]


def tensor(t):
    return {"shape": list(t.shape), "data": flat(t)}


def randn(gen, *shape):
    return torch.randn(*shape, generator=gen, dtype=torch.float32)


# (name, input shape, out channels, kernel (kh, kw), stride, padding, dilation, groups, bias)
CONV_CASES = [
    ("plain_3x3", (2, 3, 6, 5), 4, (3, 3), (1, 1), (0, 0), (1, 1), 1, True),
    ("same_padding_no_bias", (2, 3, 6, 6), 5, (3, 3), (1, 1), (1, 1), (1, 1), 1, False),
    ("stride2_padding", (2, 2, 7, 6), 3, (3, 3), (2, 2), (1, 1), (1, 1), 1, True),
    ("dilation2", (1, 2, 7, 7), 3, (3, 3), (1, 1), (2, 2), (2, 2), 1, True),
    ("groups2_rect", (2, 4, 5, 7), 6, (2, 3), (2, 1), (1, 2), (1, 2), 2, True),
    ("pointwise", (2, 6, 4, 3), 4, (1, 1), (1, 1), (0, 0), (1, 1), 1, True),
]

# (name, module, input shape, affine, momentum, eps, training steps)
BN_CASES = [
    ("bn2d", "2d", (4, 3, 5, 4), True, 0.1, 1e-5, 2),
    ("bn2d_momentum_eps", "2d", (3, 2, 3, 3), True, 0.3, 1e-3, 3),
    ("bn2d_no_affine", "2d", (2, 3, 4, 4), False, 0.1, 1e-5, 1),
    ("bn1d", "1d", (8, 5), True, 0.1, 1e-5, 2),
    ("bn1d_3d", "1d", (4, 3, 6), True, 0.1, 1e-5, 2),
]


def conv_fixtures(gen):
    cases = []
    for name, xs, cout, k, stride, padding, dilation, groups, bias in CONV_CASES:
        x = randn(gen, *xs).requires_grad_(True)
        w = (randn(gen, cout, xs[1] // groups, *k) * 0.5).requires_grad_(True)
        b = randn(gen, cout).requires_grad_(True) if bias else None
        y = F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
        dy = randn(gen, *y.shape)
        (y * dy).sum().backward()
        case = {"name": name, "stride": list(stride), "padding": list(padding),
                "dilation": list(dilation), "groups": groups,
                "x": tensor(x), "weight": tensor(w), "y": tensor(y), "dy": tensor(dy),
                "dx": tensor(x.grad), "dweight": tensor(w.grad)}
        if bias:
            case["bias"] = tensor(b)
            case["dbias"] = tensor(b.grad)
        cases.append(case)
    return cases


def bn_fixtures(gen):
    cases = []
    for name, kind, xs, affine, momentum, eps, steps in BN_CASES:
        cls = torch.nn.BatchNorm2d if kind == "2d" else torch.nn.BatchNorm1d
        bn = cls(xs[1], eps=eps, momentum=momentum, affine=affine)
        if affine:
            with torch.no_grad():
                bn.weight.copy_(1 + 0.5 * randn(gen, xs[1]))
                bn.bias.copy_(0.5 * randn(gen, xs[1]))
        case = {"name": name, "kind": kind, "affine": affine, "momentum": momentum, "epsilon": eps,
                "inputs": [], "runningMean": [], "runningVar": []}
        if affine:
            case["weight"] = tensor(bn.weight)
            case["bias"] = tensor(bn.bias)
        bn.train()
        for step in range(steps):
            # Shifted and scaled so that the statistics are far from (0, 1).
            x = (3 * randn(gen, *xs) + 2).requires_grad_(True)
            y = bn(x)
            case["inputs"].append(tensor(x))
            case["runningMean"].append(flat(bn.running_mean))
            case["runningVar"].append(flat(bn.running_var))
            if step == steps - 1:
                dy = randn(gen, *y.shape)
                if affine:
                    bn.weight.grad = None
                    bn.bias.grad = None
                (y * dy).sum().backward()
                case["y"] = tensor(y)
                case["dy"] = tensor(dy)
                case["dx"] = tensor(x.grad)
                if affine:
                    case["dweight"] = tensor(bn.weight.grad)
                    case["dbias"] = tensor(bn.bias.grad)
        case["numBatchesTracked"] = int(bn.num_batches_tracked)
        bn.eval()
        x = (3 * randn(gen, *xs) + 2).requires_grad_(True)
        y = bn(x)
        dy = randn(gen, *y.shape)
        (y * dy).sum().backward()
        case["evalInput"] = tensor(x)
        case["evalY"] = tensor(y)
        case["evalDy"] = tensor(dy)
        case["evalDx"] = tensor(x.grad)
        cases.append(case)
    return cases


def write(name, cases):
    doc = {"generator": "Scripts/make_conv_fixtures.py", "torch": torch.__version__, "cases": cases}
    path = os.path.join(OUT_DIR, name)
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.relpath(path)} ({os.path.getsize(path)} bytes)")


def main():
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(20240613)
    write("conv_conv2d.json", conv_fixtures(gen))
    write("conv_batchnorm.json", bn_fixtures(gen))


if __name__ == "__main__":
    main()
