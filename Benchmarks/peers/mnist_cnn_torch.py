"""PyTorch's examples/mnist recipe on the same IDX files Kiln reads: the peer for
`kiln train mnist-cnn`. Usage: python3 Benchmarks/peers/mnist_cnn_torch.py [--epochs 2] [--data-dir data]
   [--optimizer adadelta|adam] [--lr 1.0] [--schedule step|cosine|onecycle|constant] [--threads 2]
   [--crop-padding 0] [--label-smoothing 0]
`--optimizer adam --lr 0.005 --schedule onecycle --crop-padding 2 --label-smoothing 0.1` is Kiln's
default recipe for mnist-cnn (`--crop-padding P`: torchvision's RandomCrop(28, padding=P) of each
training image, i.e. shifts of up to P pixels, the border black)."""
import argparse, math, struct, time
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F

def idx(path):
    with open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4]); dims = magic & 0xFF
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1); self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25); self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128); self.fc2 = nn.Linear(128, 10)
    def forward(self, x):
        x = F.relu(self.conv1(x)); x = F.relu(self.conv2(x)); x = F.max_pool2d(x, 2)
        x = torch.flatten(self.dropout1(x), 1); x = self.dropout2(F.relu(self.fc1(x)))
        return self.fc2(x)

ap = argparse.ArgumentParser()
ap.add_argument("--epochs", type=int, default=2); ap.add_argument("--data-dir", default="data")
ap.add_argument("--optimizer", default="adadelta"); ap.add_argument("--lr", type=float, default=None)
ap.add_argument("--schedule", default="step"); ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--seed", type=int, default=1); ap.add_argument("--batch-size", type=int, default=64)
ap.add_argument("--crop-padding", type=int, default=0); ap.add_argument("--label-smoothing", type=float, default=0.0)
a = ap.parse_args()
torch.set_num_threads(a.threads); torch.manual_seed(a.seed)
d = a.data_dir + "/mnist/"
norm = lambda x: (torch.tensor(x, dtype=torch.float32).unsqueeze(1) / 255 - 0.1307) / 0.3081
xtr, ytr = norm(idx(d + "train-images-idx3-ubyte")), torch.tensor(idx(d + "train-labels-idx1-ubyte"), dtype=torch.long)
xte, yte = norm(idx(d + "t10k-images-idx3-ubyte")), torch.tensor(idx(d + "t10k-labels-idx1-ubyte"), dtype=torch.long)
model = Net()
lr = a.lr if a.lr is not None else (1.0 if a.optimizer == "adadelta" else 1e-3)
opt = torch.optim.Adadelta(model.parameters(), lr=lr) if a.optimizer == "adadelta" else torch.optim.Adam(model.parameters(), lr=lr)
steps = math.ceil(len(xtr) / a.batch_size)
warm = steps * a.epochs // 10   # onecycle: linear warm-up from 0 over 10% of the steps, then a cosine to 0
sched = {"step": lambda s: 0.7 ** (s // steps), "cosine": lambda s: 0.5 * (1 + math.cos(math.pi * s / (steps * a.epochs))),
         "onecycle": lambda s: s / warm if s < warm else 0.5 * (1 + math.cos(math.pi * (s - warm) / (steps * a.epochs - warm))),
         "constant": lambda s: 1.0}[a.schedule]
black = (0 - 0.1307) / 0.3081
def crop(x, p):
    """A random 28×28 window of each image padded by p black pixels."""
    if p == 0: return x
    padded = F.pad(x, (p, p, p, p), value=black)
    off = torch.randint(0, 2 * p + 1, (len(x), 2))
    return torch.stack([padded[k, :, t:t + 28, l:l + 28] for k, (t, l) in enumerate(off.tolist())])
step = 0
for epoch in range(1, a.epochs + 1):
    model.train(); perm = torch.randperm(len(xtr)); t0 = time.time(); total = 0.0
    for i in range(0, len(xtr), a.batch_size):
        for g in opt.param_groups: g["lr"] = lr * sched(step)
        idxs = perm[i:i + a.batch_size]
        opt.zero_grad(); loss = F.cross_entropy(model(crop(xtr[idxs], a.crop_padding)), ytr[idxs], label_smoothing=a.label_smoothing); loss.backward(); opt.step()
        total += loss.item(); step += 1
    secs = time.time() - t0
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(xte[i:i + 1000]) for i in range(0, len(xte), 1000)])
        test_loss = F.cross_entropy(logits, yte).item(); acc = (logits.argmax(1) == yte).float().mean().item()
    print(f"epoch {epoch:2d}  train loss {total / steps:.4f}  test loss {test_loss:.4f}  test acc {acc * 100:6.2f}%  {len(xtr) / secs:8.0f} samples/s", flush=True)
