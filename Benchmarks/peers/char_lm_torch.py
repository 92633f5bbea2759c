"""The PyTorch side of Kiln's learning-parity check for the character-level models: the `gpt` and
`lstm` workloads of BENCHMARKS.md trained on the same text, split (first 90% train, last 10%
validation), batch, context, optimizer, learning rate and number of steps as
`kiln train char-gpt|char-lstm`, reporting the validation loss the same way (20 batches of
random windows). Usage:
    python3 Benchmarks/peers/char_lm_torch.py gpt  --steps 1000 [--text data/shakespeare/shakespeare.txt] [--max-chars N]
    python3 Benchmarks/peers/char_lm_torch.py lstm --steps 1000
"""
import argparse, math, time
import torch, torch.nn as nn, torch.nn.functional as F

class Block(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width, bias=False); self.ln_2 = nn.LayerNorm(width, bias=False)
        self.c_attn = nn.Linear(width, 3 * width, bias=False); self.attn_proj = nn.Linear(width, width, bias=False)
        self.c_fc = nn.Linear(width, 4 * width, bias=False); self.mlp_proj = nn.Linear(4 * width, width, bias=False)
        self.heads = heads
    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = [t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v)]
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, C)
        x = x + self.attn_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))

class GPT(nn.Module):
    def __init__(self, vocab, context=128, layers=4, heads=4, width=128):
        super().__init__()
        self.wte = nn.Embedding(vocab, width); self.wpe = nn.Embedding(context, width)
        self.h = nn.ModuleList([Block(width, heads) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(width, bias=False)
        for name, p in self.named_parameters():   # nanoGPT's initialisation
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * layers) if name.endswith("proj.weight") else 0.02
                nn.init.normal_(p, 0.0, std)
    def forward(self, idx):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for b in self.h: x = b(x)
        return self.ln_f(x) @ self.wte.weight.T   # tied output projection

class CharLSTM(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.embedding = nn.Embedding(vocab, 64); self.lstm = nn.LSTM(64, 256, batch_first=True)
        self.head = nn.Linear(256, vocab)
    def forward(self, idx):
        return self.head(self.lstm(self.embedding(idx))[0])

ap = argparse.ArgumentParser()
ap.add_argument("model", choices=["gpt", "lstm"]); ap.add_argument("--steps", type=int, default=1000)
ap.add_argument("--eval-every", type=int, default=200); ap.add_argument("--eval-batches", type=int, default=20)
ap.add_argument("--text", default="data/shakespeare/shakespeare.txt"); ap.add_argument("--max-chars", type=int, default=None)
ap.add_argument("--seed", type=int, default=1); ap.add_argument("--threads", type=int, default=2)
a = ap.parse_args()
torch.set_num_threads(a.threads); torch.manual_seed(a.seed)
text = open(a.text, encoding="utf-8").read()
if a.max_chars: text = text[:a.max_chars]
chars = sorted(set(text)); stoi = {c: i for i, c in enumerate(chars)}
data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
cut = int(len(data) * 0.9); train, val = data[:cut], data[cut:]
B, T, lr = (32, 128, 1e-3) if a.model == "gpt" else (64, 64, 2e-3)
model = GPT(len(chars)) if a.model == "gpt" else CharLSTM(len(chars))
if a.model == "gpt":
    decay = [p for p in model.parameters() if p.dim() >= 2]; plain = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": plain, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.99))
else:
    opt = torch.optim.Adam(model.parameters(), lr=lr)

def batch(split, g):
    d = train if split == "train" else val
    ix = torch.randint(len(d) - T, (B,), generator=g)
    return torch.stack([d[i:i + T] for i in ix]), torch.stack([d[i + 1:i + T + 1] for i in ix])

def evaluate():
    model.eval(); g = torch.Generator().manual_seed(0x5EED); total = 0.0
    with torch.no_grad():
        for _ in range(a.eval_batches):
            x, y = batch("val", g); total += F.cross_entropy(model(x).view(-1, len(chars)), y.view(-1)).item()
    model.train(); return total / a.eval_batches

g = torch.Generator().manual_seed(a.seed); t0 = time.time(); losses = []
for step in range(1, a.steps + 1):
    x, y = batch("train", g)
    loss = F.cross_entropy(model(x).view(-1, len(chars)), y.view(-1))
    opt.zero_grad(); loss.backward(); opt.step(); losses.append(loss.item())
    if step % a.eval_every == 0 or step == a.steps:
        v = evaluate()
        print(f"step {step:5d}  train loss {sum(losses) / len(losses):.4f}  val loss {v:.4f} ({v / math.log(2):.3f} bits/char)  "
              f"{step * B * T / (time.time() - t0):7.0f} tokens/s", flush=True); losses = []
