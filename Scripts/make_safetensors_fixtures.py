#!/usr/bin/env python3
"""Safetensors interoperability fixtures between PyTorch and Kiln (needs torch and safetensors).

Writes into Tests/KilnModelsTests/Fixtures/:

* mlp_small_torch.safetensors: the `mlp` architecture (Linear, ReLU, Dropout, Linear, ReLU,
  Dropout, Linear) at a small size (20-16-16-10) with PyTorch's initial weights, written by
  safetensors.torch.save_file. Kiln loads it and must give PyTorch's eval-mode outputs.
* safetensors_interop.json: a fixed input batch and PyTorch's eval-mode outputs for
  - the PyTorch-written small MLP (PyTorch -> Kiln),
  - mlp_small_kiln.safetensors, a file written by Kiln (by the test `kilnWrittenFileIsWhatPyTorchRead`
    with KILN_WRITE_FIXTURES=1), loaded here with load_file + load_state_dict(strict=True)
    (Kiln -> PyTorch; the test checks Kiln still writes exactly these bytes),
  - the `cnn` (PyTorch's MNIST example Net) and `resnet20` (option-A CIFAR ResNet-20) models with
    weights given by a formula both sides compute exactly (no large files to commit), saved
    with save_file and read back with load_file before running.

With --full DIR it also does the full-size round trip by hand: it writes DIR/{mlp,cnn,resnet20}_torch
.safetensors (PyTorch's random initial weights) with inputs and outputs in DIR/full_io.json for Kiln
to check (the test `fullSizeInteropByHand`, run with KILN_INTEROP_DIR=DIR, which also writes
DIR/*_kiln.safetensors and DIR/kiln_outputs.json); then run this script again with --verify DIR to
load Kiln's files in PyTorch and compare.

    python3 Scripts/make_safetensors_fixtures.py
    python3 Scripts/make_safetensors_fixtures.py --full /tmp/interop
    KILN_INTEROP_DIR=/tmp/interop swift test --filter fullSizeInteropByHand
    python3 Scripts/make_safetensors_fixtures.py --verify /tmp/interop
"""
import argparse
import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "KilnModelsTests", "Fixtures")


def mlp(inputs=784, hidden=512, classes=10):
    """KilnModels.makeMLP: state_dict names 0.*, 3.*, 6.*"""
    return nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden, classes))


class Net(nn.Module):
    """PyTorch's examples/mnist network (KilnModels.MNISTConvNet), returning logits."""

    def __init__(self, channels=1):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = self.dropout1(F.max_pool2d(x, 2))
        x = self.dropout2(F.relu(self.fc1(torch.flatten(x, 1))))
        return self.fc2(x)


class BasicBlock(nn.Module):
    """The CIFAR ResNet basic block with the option-A shortcut (KilnModels.BasicBlock)."""

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.stride, self.extra = stride, planes - in_planes

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        shortcut = x
        if self.stride != 1 or self.extra != 0:
            pad = self.extra // 2
            shortcut = F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, pad, self.extra - pad))
        return F.relu(out + shortcut)


class ResNet20(nn.Module):
    """KilnModels.ResNet20: conv1, bn1, layer1..3 (3 blocks each), global average pool, linear."""

    def __init__(self, channels=3, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = nn.Sequential(*[BasicBlock(16, 16) for _ in range(3)])
        self.layer2 = nn.Sequential(BasicBlock(16, 32, 2), BasicBlock(32, 32), BasicBlock(32, 32))
        self.layer3 = nn.Sequential(BasicBlock(32, 64, 2), BasicBlock(64, 64), BasicBlock(64, 64))
        self.linear = nn.Linear(64, classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        return self.linear(torch.flatten(F.adaptive_avg_pool2d(out, 1), 1))


def formula_state(model):
    """Weights both Kiln and PyTorch compute exactly: tensor k (its name's index in sorted order),
    element i has m = (i*7919 + k*104729) % 1009 - 504 and the value m / (504 sqrt(fan_in)) rounded
    to float32; running variances 1 + |m|/1008; num_batches_tracked k."""
    state = model.state_dict()
    names = sorted(state.keys())
    out = {}
    for name, tensor in state.items():
        k = names.index(name)
        n = tensor.numel()
        m = [(i * 7919 + k * 104729) % 1009 - 504 for i in range(n)]
        if name.endswith("num_batches_tracked"):
            out[name] = torch.tensor(k, dtype=torch.int64)
            continue
        if name.endswith("running_var"):
            values = [1 + abs(v) / 1008.0 for v in m]
        else:
            fan_in = n // tensor.shape[0] if tensor.dim() >= 2 else tensor.shape[0]
            values = [v / (504.0 * math.sqrt(fan_in)) for v in m]
        out[name] = torch.tensor(values, dtype=torch.float64).to(torch.float32).reshape(tensor.shape)
    return out


def formula_input(shape):
    """x[i] = ((i*31337) % 2003 - 1001) / 1001 rounded to float32."""
    n = math.prod(shape)
    return torch.tensor([((i * 31337) % 2003 - 1001) / 1001.0 for i in range(n)], dtype=torch.float64) \
        .to(torch.float32).reshape(shape)


def floats(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def via_file(model, state, path):
    """save_file then load_file + load_state_dict(strict=True): the PyTorch side of a round trip."""
    save_file({k: v.contiguous() for k, v in state.items()}, path, metadata={"format": "pt"})
    model.load_state_dict(load_file(path), strict=True)
    return model.eval()


def fixtures():
    torch.manual_seed(0)
    small = mlp(20, 16, 10).eval()
    torch_file = os.path.join(FIXTURES, "mlp_small_torch.safetensors")
    save_file(small.state_dict(), torch_file, metadata={"format": "pt", "written_by": "PyTorch " + torch.__version__})
    x = torch.randn(4, 20, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch_out = small(x)
    result = {
        "generated_by": "Scripts/make_safetensors_fixtures.py",
        "torch": torch.__version__,
        "mlp_input": floats(x),
        "mlp_torch_output": floats(torch_out),
    }
    kiln_file = os.path.join(FIXTURES, "mlp_small_kiln.safetensors")
    if os.path.exists(kiln_file):
        from_kiln = mlp(20, 16, 10)
        from_kiln.load_state_dict(load_file(kiln_file), strict=True)
        with torch.no_grad():
            result["mlp_kiln_output_in_torch"] = floats(from_kiln.eval()(x))
    else:
        print("note: %s missing; write it with KILN_WRITE_FIXTURES=1 swift test --filter kilnWrittenFileIsWhatPyTorchRead, then rerun"
              % kiln_file)
    tmp = os.path.join(FIXTURES, ".tmp-formula.safetensors")
    with torch.no_grad():
        cnn = via_file(Net(), formula_state(Net()), tmp)
        result["cnn_output"] = floats(cnn(formula_input((2, 1, 28, 28))))
        resnet = via_file(ResNet20(), formula_state(ResNet20()), tmp)
        result["resnet20_output"] = floats(resnet(formula_input((2, 3, 32, 32))))
    os.remove(tmp)
    with open(os.path.join(FIXTURES, "safetensors_interop.json"), "w") as f:
        json.dump(result, f)
        f.write("\n")
    print("wrote", torch_file, "and safetensors_interop.json")


def full(directory):
    os.makedirs(directory, exist_ok=True)
    torch.manual_seed(0)
    models = {"mlp": (mlp(), (8, 784)), "cnn": (Net(), (4, 1, 28, 28)), "resnet20": (ResNet20(), (4, 3, 32, 32))}
    io = {}
    for name, (model, shape) in models.items():
        model.eval()
        if name == "resnet20":  # non-trivial running statistics
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.5, 0.5)
                    m.running_var.uniform_(0.5, 1.5)
                    m.num_batches_tracked.fill_(123)
        path = os.path.join(directory, name + "_torch.safetensors")
        save_file(model.state_dict(), path, metadata={"format": "pt"})
        x = torch.randn(*shape, generator=torch.Generator().manual_seed(2))
        with torch.no_grad():
            y = model(x)
        io[name] = {"shape": list(shape), "input": floats(x), "output": floats(y)}
        print("%s: %s (%.1f MB)" % (name, path, os.path.getsize(path) / 1e6))
    with open(os.path.join(directory, "full_io.json"), "w") as f:
        json.dump(io, f)


def verify(directory):
    with open(os.path.join(directory, "full_io.json")) as f:
        io = json.load(f)
    with open(os.path.join(directory, "kiln_outputs.json")) as f:
        kiln = json.load(f)
    makers = {"mlp": mlp, "cnn": Net, "resnet20": ResNet20}
    for name, make in makers.items():
        path = os.path.join(directory, name + "_kiln.safetensors")
        model = make()
        model.load_state_dict(load_file(path), strict=True)
        model.eval()
        x = torch.tensor(io[name]["input"]).reshape(io[name]["shape"])
        with torch.no_grad():
            y = model(x).reshape(-1)
        diff = (y - torch.tensor(kiln[name])).abs().max().item()
        print("Kiln -> PyTorch %s: %s loads with strict=True; max |PyTorch(Kiln file) - Kiln| = %.3g" % (name, path, diff))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", metavar="DIR", help="write full-size PyTorch files for a by-hand round trip")
    parser.add_argument("--verify", metavar="DIR", help="load Kiln's full-size files in PyTorch and compare")
    args = parser.parse_args()
    if args.full:
        full(args.full)
    elif args.verify:
        verify(args.verify)
    else:
        fixtures()
