#!/usr/bin/env python3
"""Kiln's reference workloads in PyTorch on a CUDA device, timed like `kiln bench --device cuda`.

The workloads are those of torch_workloads.py (same shapes, optimizers, initial seed), built on the
CPU and then moved: the model with `.to(device)` (the optimizer, made before, keeps its parameters),
the synthetic batch by replacing the tensors the loss closure holds. Each timed step ends with
`torch.cuda.synchronize()`, as each of Kiln's timed steps waits for its stream.

Float32 throughout: TF32 is off for matrix products and cuDNN convolutions, as in Kiln unless
KILN_CUDA_TF32=1 (pass --tf32 to compare with TF32 on in both).

    python3 Benchmarks/peers/torch_workloads_cuda.py mlp --steps 100 --warmup 10

prints one JSON line with the same field names as `kiln bench --json`.
"""
import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_workloads import build, quantile, timed_steps  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workload")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--tf32", action="store_true", help="allow TF32 in matrix products and convolutions")
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        sys.exit("PyTorch is not installed")
    device = torch.device(args.device)
    on_gpu = device.type == "cuda"
    if on_gpu and not torch.cuda.is_available():
        sys.exit("PyTorch sees no CUDA device")
    sync = torch.cuda.synchronize if on_gpu else (lambda: None)
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.manual_seed(1)
    model, opt, loss_fn, batch, unit, units_per_sample = build(args.workload, torch)
    model.to(device)
    for cell in loss_fn.__closure__ or ():
        if isinstance(cell.cell_contents, torch.Tensor):
            cell.cell_contents = cell.cell_contents.to(device)
    times = timed_steps(model, opt, loss_fn, args.warmup, args.steps, sync)
    median = statistics.median(times)
    print(json.dumps({
        "workload": args.workload, "peer": f"pytorch {torch.__version__}", "device": str(device),
        "tf32": args.tf32, "unit": unit, "batch_size": batch,
        f"{unit}_per_second": batch * units_per_sample / median,
        "step_ms_median": median * 1e3, "step_ms_p10": quantile(times, 0.1) * 1e3,
        "step_ms_p90": quantile(times, 0.9) * 1e3,
    }))


if __name__ == "__main__":
    main()
