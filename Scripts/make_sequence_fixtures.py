#!/usr/bin/env python3
"""Generate the PyTorch reference fixtures for KilnNN's sequence-layer tests.

Run from the repository root:

    python3 Scripts/make_sequence_fixtures.py

It writes into Tests/KilnNNTests/Fixtures/ (committed, so the Swift tests never need PyTorch):

- seq_layernorm.json: nn.LayerNorm with and without bias.
- seq_attention.json: nanoGPT's CausalSelfAttention (fused c_attn, F.scaled_dot_product_attention,
  c_proj), causal and not.
- seq_transformer.json: nanoGPT's Block (pre-norm, exact GELU MLP), without biases as in the `gpt`
  workload.
- seq_lstm.json, seq_gru.json: nn.LSTM / nn.GRU (batch_first) from a given initial state.

Each case holds the module's state dict (PyTorch's names), an input, the weights `w` of the loss
sum(output * w) (and of the final states for the recurrent layers), the output, and the gradients
of that loss with respect to the input, every parameter and the initial state. Inputs and
parameters are float32 values; the reference is computed in float64 from exactly those values,
so it is the exact answer that Kiln's float32 result is held to.
"""

import json
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                       "Tests", "KilnNNTests", "Fixtures")
GENERATOR = "Scripts/make_sequence_fixtures.py"


def flat(t):
    """Values of a tensor as float32-exact Python floats (shortest repr of the float32)."""
    return [float(str(np.float32(v))) for v in t.detach().reshape(-1).tolist()]


def exact(t):
    """Float64 reference values, rounded to 9 significant digits (well beyond float32's)."""
    return [float(f"{v:.9g}") for v in t.detach().reshape(-1).tolist()]


def f32_randn(gen, *shape, scale=1.0):
    """Float32 random values, returned as a float64 tensor holding exactly those values."""
    return (torch.randn(*shape, generator=gen) * scale).float().double()


def set_params(module, gen, scale=0.5):
    """Replaces every parameter by float32-exact random values (float64 storage)."""
    module.double()
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(f32_randn(gen, *p.shape, scale=scale))


def state(module):
    return {name: {"shape": list(t.shape), "values": flat(t)} for name, t in module.state_dict().items()}


def grads(module):
    return {name: exact(p.grad) for name, p in module.named_parameters()}


class CausalSelfAttention(nn.Module):  # nanoGPT model.py
    def __init__(self, width, heads, bias, causal):
        super().__init__()
        self.c_attn = nn.Linear(width, 3 * width, bias=bias)
        self.c_proj = nn.Linear(width, width, bias=bias)
        self.heads, self.width, self.causal = heads, width, causal

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(self.width, dim=2)
        q = q.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        k = k.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        v = v.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        return self.c_proj(y.transpose(1, 2).contiguous().view(b, t, c))


class MLP(nn.Module):
    def __init__(self, width, bias):
        super().__init__()
        self.c_fc = nn.Linear(width, 4 * width, bias=bias)
        self.c_proj = nn.Linear(4 * width, width, bias=bias)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, width, heads, bias):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width, bias=bias)
        self.attn = CausalSelfAttention(width, heads, bias, True)
        self.ln_2 = nn.LayerNorm(width, bias=bias)
        self.mlp = MLP(width, bias)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


def feedforward_case(name, module, x, gen, extra=None):
    x = x.clone().requires_grad_(True)
    y = module(x)
    w = f32_randn(gen, *y.shape)
    (y * w).sum().backward()
    case = {"name": name, "state": state(module), "input": {"shape": list(x.shape), "values": flat(x)},
            "w": flat(w), "output": exact(y), "inputGrad": exact(x.grad), "paramGrads": grads(module)}
    case.update(extra or {})
    return case


def layernorm_cases(gen):
    cases = []
    for bias in (True, False):
        m = nn.LayerNorm(20, bias=bias)
        set_params(m, gen)
        with torch.no_grad():
            m.weight.add_(1)
        # Rows with a large mean: the two-pass variance matters there.
        x = f32_randn(gen, 2, 3, 20) + torch.tensor([0.0, 3.0, -50.0], dtype=torch.float64).view(1, 3, 1)
        cases.append(feedforward_case(f"layernorm_bias_{bias}".lower(), m, x.float().double(), gen,
                                      {"features": 20, "bias": bias}))
    return cases


def attention_cases(gen):
    cases = []
    for causal, t in ((True, 5), (False, 4), (True, 35)):
        m = CausalSelfAttention(8, 2, True, causal)
        set_params(m, gen)
        x = f32_randn(gen, 2, t, 8)
        cases.append(feedforward_case(f"attention_causal_{causal}_t{t}".lower(), m, x, gen,
                                      {"width": 8, "heads": 2, "causal": causal}))
    return cases


def transformer_cases(gen):
    m = Block(8, 2, False)
    set_params(m, gen)
    with torch.no_grad():
        m.ln_1.weight.add_(1)
        m.ln_2.weight.add_(1)
    x = f32_randn(gen, 2, 6, 8)
    return [feedforward_case("block_nobias", m, x, gen, {"width": 8, "heads": 2, "bias": False})]


def recurrent_case(kind, gen):
    B, T, I, H = 2, 4, 3, 5
    m = (nn.LSTM if kind == "lstm" else nn.GRU)(I, H, batch_first=True)
    set_params(m, gen)
    x = f32_randn(gen, B, T, I).requires_grad_(True)
    h0 = f32_randn(gen, 1, B, H).requires_grad_(True)
    c0 = f32_randn(gen, 1, B, H).requires_grad_(True)
    if kind == "lstm":
        out, (h, c) = m(x, (h0, c0))
    else:
        out, h = m(x, h0)
    w, wh = f32_randn(gen, *out.shape), f32_randn(gen, B, H)
    loss = (out * w).sum() + (h[0] * wh).sum()
    case = {"name": kind, "inputSize": I, "hiddenSize": H, "state": state(m),
            "input": {"shape": [B, T, I], "values": flat(x)}, "h0": flat(h0), "w": flat(w), "wh": flat(wh)}
    if kind == "lstm":
        wc = f32_randn(gen, B, H)
        loss = loss + (c[0] * wc).sum()
        case.update({"c0": flat(c0), "wc": flat(wc), "c": exact(c)})
    loss.backward()
    case.update({"output": exact(out), "h": exact(h), "inputGrad": exact(x.grad), "paramGrads": grads(m),
                 "h0Grad": exact(h0.grad)})
    if kind == "lstm":
        case["c0Grad"] = exact(c0.grad)
    return case


def write(name, cases):
    path = os.path.join(OUT_DIR, name)
    with open(path, "w") as f:
        json.dump({"generator": GENERATOR, "torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(20240901)
    os.makedirs(OUT_DIR, exist_ok=True)
    write("seq_layernorm.json", layernorm_cases(gen))
    write("seq_attention.json", attention_cases(gen))
    write("seq_transformer.json", transformer_cases(gen))
    write("seq_lstm.json", [recurrent_case("lstm", gen)])
    write("seq_gru.json", [recurrent_case("gru", gen)])


if __name__ == "__main__":
    main()
