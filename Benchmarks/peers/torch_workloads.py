#!/usr/bin/env python3
"""Kiln's five reference workloads in PyTorch, timed like `kiln bench`.

One step = zero_grad + forward + loss + backward + optimizer step, fp32, on synthetic inputs of the
right shape created once, model in train() mode; the median of the timed steps after warm-up.
Shapes and optimizers are those of KilnModels (see ../shared/BENCHMARKS.md and
Sources/KilnModels/Workloads.swift).

    python3 Benchmarks/peers/torch_workloads.py mlp --threads 2 --steps 100 --warmup 10

prints one JSON line with the same field names as `kiln bench --json`.
"""
import argparse
import json
import resource
import statistics
import sys
import time


def build(name, torch):
    nn, F = torch.nn, torch.nn.functional
    g = torch.Generator().manual_seed(1)

    if name == "mlp":  # Keras mnist_mlp; Adam lr 1e-3
        B = 128
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2),
                              nn.Linear(512, 512), nn.ReLU(), nn.Dropout(0.2), nn.Linear(512, 10))
        x, y = torch.rand(B, 784, generator=g), torch.randint(0, 10, (B,), generator=g)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        return model, opt, lambda: F.cross_entropy(model(x), y), B, "samples", 1

    if name == "cnn":  # pytorch/examples mnist Net; Adadelta lr 1.0
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1, self.conv2 = nn.Conv2d(1, 32, 3), nn.Conv2d(32, 64, 3)
                self.fc1, self.fc2 = nn.Linear(9216, 128), nn.Linear(128, 10)

            def forward(self, x):
                x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
                x = torch.flatten(F.dropout(x, 0.25, self.training), 1)
                return self.fc2(F.dropout(F.relu(self.fc1(x)), 0.5, self.training))

        B = 64
        model = Net()
        x, y = torch.rand(B, 1, 28, 28, generator=g), torch.randint(0, 10, (B,), generator=g)
        opt = torch.optim.Adadelta(model.parameters(), lr=1.0)
        return model, opt, lambda: F.cross_entropy(model(x), y), B, "samples", 1

    if name == "resnet20":  # CIFAR ResNet-20, option-A shortcuts; SGD 0.1, momentum 0.9, wd 5e-4
        class Block(nn.Module):
            def __init__(self, cin, cout, stride):
                super().__init__()
                self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
                self.bn1 = nn.BatchNorm2d(cout)
                self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
                self.bn2 = nn.BatchNorm2d(cout)
                self.pad = cout - cin if stride != 1 or cin != cout else 0

            def forward(self, x):
                out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
                shortcut = x
                if self.pad:
                    shortcut = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
                return F.relu(out + shortcut)

        class ResNet20(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1, self.bn1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16)
                blocks, cin = [], 16
                for cout, stride in ((16, 1), (32, 2), (64, 2)):
                    for i in range(3):
                        blocks.append(Block(cin, cout, stride if i == 0 else 1))
                        cin = cout
                self.blocks, self.fc = nn.Sequential(*blocks), nn.Linear(64, 10)

            def forward(self, x):
                x = self.blocks(F.relu(self.bn1(self.conv1(x))))
                return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))

        B = 128
        model = ResNet20()
        x, y = torch.rand(B, 3, 32, 32, generator=g), torch.randint(0, 10, (B,), generator=g)
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
        return model, opt, lambda: F.cross_entropy(model(x), y), B, "samples", 1

    if name == "gpt":  # nanoGPT shape: no biases, dropout 0, tied embeddings, exact GELU; AdamW
        V, T, L, H, C, B = 65, 128, 4, 4, 128, 32

        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.ln_1, self.ln_2 = nn.LayerNorm(C, bias=False), nn.LayerNorm(C, bias=False)
                self.c_attn, self.c_proj = nn.Linear(C, 3 * C, bias=False), nn.Linear(C, C, bias=False)
                self.mlp = nn.Sequential(nn.Linear(C, 4 * C, bias=False), nn.GELU(), nn.Linear(4 * C, C, bias=False))

            def forward(self, x):
                b, t, c = x.shape
                q, k, v = (z.view(b, t, H, c // H).transpose(1, 2) for z in self.c_attn(self.ln_1(x)).split(C, dim=2))
                a = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, t, c)
                x = x + self.c_proj(a)
                return x + self.mlp(self.ln_2(x))

        class GPT(nn.Module):
            def __init__(self):
                super().__init__()
                self.wte, self.wpe = nn.Embedding(V, C), nn.Embedding(T, C)
                self.h = nn.Sequential(*[Block() for _ in range(L)])
                self.ln_f = nn.LayerNorm(C, bias=False)

            def forward(self, idx):
                x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
                return self.ln_f(self.h(x)) @ self.wte.weight.t()  # tied output projection

        model = GPT()
        idx, y = torch.randint(0, V, (B, T), generator=g), torch.randint(0, V, (B, T), generator=g)
        decay = [p for p in model.parameters() if p.dim() >= 2]
        rest = [p for p in model.parameters() if p.dim() < 2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                                lr=1e-3, betas=(0.9, 0.99))
        return model, opt, lambda: F.cross_entropy(model(idx).view(-1, V), y.view(-1)), B, "tokens", T

    if name == "lstm":  # Embedding(65,64) → LSTM(64→256) → Linear(256,65) at every position; Adam 2e-3
        V, E, Hd, B, T = 65, 64, 256, 64, 64

        class CharLSTM(nn.Module):
            def __init__(self):
                super().__init__()
                self.embedding, self.lstm, self.head = nn.Embedding(V, E), nn.LSTM(E, Hd, batch_first=True), nn.Linear(Hd, V)

            def forward(self, idx):
                return self.head(self.lstm(self.embedding(idx))[0])

        model = CharLSTM()
        idx, y = torch.randint(0, V, (B, T), generator=g), torch.randint(0, V, (B, T), generator=g)
        opt = torch.optim.Adam(model.parameters(), lr=2e-3)
        return model, opt, lambda: F.cross_entropy(model(idx).reshape(-1, V), y.reshape(-1)), B, "tokens", T

    raise SystemExit(f"unknown workload {name!r}; known: mlp, cnn, resnet20, gpt, lstm")


def quantile(sorted_values, q):
    pos = q * (len(sorted_values) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] * (1 - (pos - lo)) + sorted_values[hi] * (pos - lo)


def timed_steps(model, opt, loss_fn, warmup, steps, sync=lambda: None):
    """Sorted wall times of `steps` training steps after `warmup` untimed ones; `sync` waits for the
    device after each step (and after the warm-up)."""
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn().backward()
        opt.step()

    for _ in range(warmup):
        step()
    sync()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    return sorted(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workload")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        sys.exit("PyTorch is not installed (pip install torch)")
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model, opt, loss_fn, batch, unit, units_per_sample = build(args.workload, torch)
    times = timed_steps(model, opt, loss_fn, args.warmup, args.steps)
    median = statistics.median(times)
    print(json.dumps({
        "workload": args.workload, "peer": f"pytorch {torch.__version__}", "unit": unit, "threads": args.threads,
        "batch_size": batch, f"{unit}_per_second": batch * units_per_sample / median,
        "step_ms_median": median * 1e3, "step_ms_p10": quantile(times, 0.1) * 1e3,
        "step_ms_p90": quantile(times, 0.9) * 1e3,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }))


if __name__ == "__main__":
    main()
