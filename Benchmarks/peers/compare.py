#!/usr/bin/env python3
"""Kiln against PyTorch on the reference workloads, measured alternately on the same machine.

For each workload, each round runs `kiln bench W --json` and then `torch_workloads.py W` (the order
swaps every round, so drift in the machine's load hits both sides), each in a fresh process, and
records throughput (samples or tokens per second at the median step time). The table shows the
median and [min–max] of each side over the rounds, and the median and [min–max] of the per-round
ratios Kiln / PyTorch (> 1: Kiln is faster).

    Scripts/build-release.sh
    python3 Benchmarks/peers/compare.py mlp cnn --rounds 3 --threads 2

PyTorch is skipped, with a message, when it is not installed; Kiln's numbers are still printed.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ALL = ["mlp", "cnn", "resnet20", "gpt", "lstm"]


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"no JSON from {' '.join(cmd)}:\n{out}")
    return json.loads(lines[-1])


def throughput(result):
    return result[f"{result['unit']}_per_second"]


def spread(values):
    return statistics.median(values), min(values), max(values)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workloads", nargs="*", default=ALL)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--kiln", default=os.path.join(ROOT, ".build", "release", "kiln"))
    ap.add_argument("--json", action="store_true", help="also print every measurement as JSON lines")
    args = ap.parse_args()
    if args.rounds < 3:
        print("note: fewer than 3 rounds; the medians are not robust", file=sys.stderr)
    if not os.access(args.kiln, os.X_OK):
        sys.exit(f"{args.kiln} not found: build it with `Scripts/build-release.sh` or pass --kiln")
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
        print("PyTorch is not installed (pip install torch): skipping the PyTorch side, showing Kiln only",
              file=sys.stderr)

    common = ["--threads", str(args.threads), "--steps", str(args.steps), "--warmup", str(args.warmup)]
    rows = []
    for w in args.workloads:
        kiln, peer, ratios = [], [], []
        for r in range(args.rounds):
            sides = ["kiln", "torch"] if r % 2 == 0 else ["torch", "kiln"]
            got = {}
            for side in sides:
                if side == "kiln":
                    got["kiln"] = run_json([args.kiln, "bench", w, "--json"] + common)
                elif have_torch:
                    got["torch"] = run_json([sys.executable, os.path.join(HERE, "torch_workloads.py"), w] + common)
                if args.json and side in got:
                    print(json.dumps({"round": r + 1, "side": side, **got[side]}))
            kiln.append(throughput(got["kiln"]))
            if "torch" in got:
                peer.append(throughput(got["torch"]))
                ratios.append(kiln[-1] / peer[-1])
            print(f"  {w} round {r + 1}: kiln {kiln[-1]:,.0f}" + (f", pytorch {peer[-1]:,.0f}" if peer else ""),
                  file=sys.stderr)
        rows.append((w, got["kiln"]["unit"], kiln, peer, ratios))

    print(f"\n{args.rounds} rounds, {args.threads} threads, {args.steps} timed steps after {args.warmup} warm-up; "
          "throughput median [min–max]")
    print("| workload | unit/s | Kiln | PyTorch | Kiln / PyTorch |")
    print("|---|---|---:|---:|---:|")
    for w, unit, kiln, peer, ratios in rows:
        k = "{:,.0f} [{:,.0f}–{:,.0f}]".format(*spread(kiln))
        p = "{:,.0f} [{:,.0f}–{:,.0f}]".format(*spread(peer)) if peer else "(not installed)"
        q = "**{:.2f}** [{:.2f}–{:.2f}]".format(*spread(ratios)) if ratios else "–"
        print(f"| {w} | {unit} | {k} | {p} | {q} |")


if __name__ == "__main__":
    main()
