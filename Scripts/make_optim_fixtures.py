#!/usr/bin/env python3
"""Generate the PyTorch reference fixtures for KilnOptim's tests.

Run from the repository root:

    python3 Scripts/make_optim_fixtures.py

It writes three JSON files into Tests/KilnOptimTests/Fixtures/ (committed, so the Swift
tests never need PyTorch):

- optimizers.json: two parameters (shapes [3, 4] and [4]) and a fixed sequence of gradients,
  fed for several steps to each optimizer configuration (torch.optim.SGD, Adam, AdamW,
  RMSprop, Adadelta with `foreach=False`, i.e. the single-tensor reference path). For every case it
  records the parameters after every step and the optimizer state after the last step.
- schedules.json: the learning rate an optimizer sees at each step under StepLR,
  CosineAnnealingLR and linear warm-up (LinearLR / LambdaLR, alone or chained into a cosine
  with SequentialLR).
- clip_grad_norm.json: torch.nn.utils.clip_grad_norm_ results (the norm it returns and the
  gradients after clipping).

Every hyperparameter is rounded to float32 first, so PyTorch (which keeps Python floats,
i.e. doubles) and Kiln (which stores Float) start from identical values. Every float is
written with Python's shortest round-trip repr of the exact float32 value.
"""

import json
import math
import os
import sys

import numpy as np
import torch

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                       "Tests", "KilnOptimTests", "Fixtures")
SHAPES = [[3, 4], [4]]
STEPS = 5


def f32(x):
    """The float32 nearest to x, as a Python float (exact)."""
    return float(np.float32(x))


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def make_inputs():
    gen = torch.Generator().manual_seed(20240611)
    initial = [torch.randn(s, generator=gen, dtype=torch.float32) for s in SHAPES]
    grads = [[torch.randn(s, generator=gen, dtype=torch.float32) for s in SHAPES]
             for _ in range(STEPS)]
    return initial, grads


# Each case: (name, optimizer, hyperparameters in Kiln's names, skipped (step, param) pairs,
# optional per-step learning rates set before each step).
CASES = [
    ("sgd_plain", "sgd", {"lr": 0.1}, [], None),
    ("sgd_momentum", "sgd", {"lr": 0.1, "momentum": 0.9}, [], None),
    ("sgd_nesterov_wd", "sgd", {"lr": 0.05, "momentum": 0.8, "nesterov": True,
                                "weightDecay": 0.1}, [], None),
    ("sgd_dampening", "sgd", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3}, [], None),
    ("sgd_momentum_skip", "sgd", {"lr": 0.1, "momentum": 0.9}, [(1, 1), (2, 0)], None),
    ("adam", "adam", {"lr": 0.01}, [], None),
    ("adam_wd", "adam", {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6,
                         "weightDecay": 0.1}, [], None),
    # beta2 small enough that the second moment falls at some steps, so amsgrad's max matters.
    ("adam_amsgrad", "adam", {"lr": 0.01, "beta2": 0.6, "amsgrad": True}, [], None),
    ("adam_skip_lr_changes", "adam", {"lr": 0.01}, [(2, 1), (3, 1)],
     [0.01, 0.02, 0.005, 0.01, 0.001]),
    ("adamw", "adamw", {"lr": 0.01}, [], None),
    ("adamw_wd", "adamw", {"lr": 0.02, "beta1": 0.85, "weightDecay": 0.5}, [], None),
    ("rmsprop", "rmsprop", {"lr": 0.01}, [], None),
    ("rmsprop_centered_momentum_wd", "rmsprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-6,
                                                 "momentum": 0.5, "centered": True,
                                                 "weightDecay": 0.05}, [], None),
    ("rmsprop_momentum", "rmsprop", {"lr": 0.005, "momentum": 0.9}, [], None),
    ("adadelta", "adadelta", {"lr": 1.0}, [], None),
    # Skips give the two parameters different step counts.
    ("adadelta_wd_skip", "adadelta", {"lr": 1.0, "weightDecay": 0.1}, [(1, 0), (3, 1)], None),
    ("adadelta_lr_rho", "adadelta", {"lr": 0.5, "rho": 0.95}, [], None),
]


def make_optimizer(kind, params, h):
    g = {k: (f32(v) if isinstance(v, float) else v) for k, v in h.items()}
    if kind == "sgd":
        return torch.optim.SGD(params, lr=g["lr"], momentum=g.get("momentum", 0.0),
                               dampening=g.get("dampening", 0.0),
                               weight_decay=g.get("weightDecay", 0.0),
                               nesterov=g.get("nesterov", False), foreach=False)
    if kind in ("adam", "adamw"):
        cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
        default_wd = 0.0 if kind == "adam" else 0.01
        return cls(params, lr=g["lr"], betas=(g.get("beta1", f32(0.9)), g.get("beta2", f32(0.999))),
                   eps=g.get("eps", f32(1e-8)), weight_decay=g.get("weightDecay", f32(default_wd)),
                   amsgrad=g.get("amsgrad", False), foreach=False)
    if kind == "rmsprop":
        return torch.optim.RMSprop(params, lr=g["lr"], alpha=g.get("alpha", f32(0.99)),
                                   eps=g.get("eps", f32(1e-8)),
                                   weight_decay=g.get("weightDecay", 0.0),
                                   momentum=g.get("momentum", 0.0),
                                   centered=g.get("centered", False), foreach=False)
    if kind == "adadelta":
        return torch.optim.Adadelta(params, lr=g["lr"], rho=g.get("rho", f32(0.9)),
                                    eps=g.get("eps", f32(1e-6)),
                                    weight_decay=g.get("weightDecay", 0.0), foreach=False)
    raise ValueError(kind)


STATE_NAMES = ["momentum_buffer", "exp_avg", "exp_avg_sq", "max_exp_avg_sq",
               "square_avg", "grad_avg", "acc_delta"]


def run_case(initial, grads, name, kind, hyper, skips, lrs):
    params = [torch.nn.Parameter(p.clone()) for p in initial]
    opt = make_optimizer(kind, params, hyper)
    after = []
    for step in range(STEPS):
        if lrs is not None:
            for group in opt.param_groups:
                group["lr"] = f32(lrs[step])
        for i, p in enumerate(params):
            p.grad = None if (step, i) in skips else grads[step][i].clone()
        opt.step()
        after.append([flat(p) for p in params])
    state = {}
    for key in STATE_NAMES:
        values = [opt.state[p].get(key) if p in opt.state else None for p in params]
        if any(isinstance(v, torch.Tensor) for v in values):
            state[key] = [flat(v) if isinstance(v, torch.Tensor) else None for v in values]
    steps = [int(opt.state[p]["step"]) if p in opt.state and "step" in opt.state[p] else None
             for p in params]
    case = {"name": name, "optimizer": kind,
            "hyper": {k: (f32(v) if isinstance(v, float) else v) for k, v in hyper.items()},
            "skips": [list(s) for s in skips], "after": after, "state": state}
    if kind != "sgd":
        case["stateSteps"] = steps
    if lrs is not None:
        case["learningRates"] = [f32(v) for v in lrs]
    return case


def optimizer_fixtures():
    initial, grads = make_inputs()
    return {
        "generator": "Scripts/make_optim_fixtures.py", "torch": torch.__version__,
        "shapes": SHAPES, "initial": [flat(p) for p in initial],
        "grads": [[flat(g) for g in step] for step in grads],
        "cases": [run_case(initial, grads, *c) for c in CASES],
    }


def check_amsgrad_matters(fixture):
    """amsgrad must change the result, or its fixture would not test the running maximum."""
    cases = {c["name"]: c for c in fixture["cases"]}
    ams = cases["adam_amsgrad"]
    plain = run_case([torch.tensor(v).reshape(s) for v, s in zip(fixture["initial"], SHAPES)],
                     [[torch.tensor(g).reshape(s) for g, s in zip(step, SHAPES)]
                      for step in fixture["grads"]],
                     "plain", "adam", {"lr": 0.01, "beta2": 0.6}, [], None)
    assert ams["after"][-1] != plain["after"][-1], "amsgrad fixture does not exercise the max"


def lrs_of(make_scheduler, base_lr, steps):
    """The learning rate the optimizer uses at steps 0..<steps."""
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=base_lr)
    sched = make_scheduler(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        p.grad = torch.zeros(1)
        opt.step()
        sched.step()
    return out


def schedule_fixtures():
    S = torch.optim.lr_scheduler
    base = f32(0.1)
    cases = []
    cases.append({"name": "step_lr", "kind": "stepLR", "baseLearningRate": base,
                  "stepSize": 3, "gamma": f32(0.5),
                  "learningRates": lrs_of(lambda o: S.StepLR(o, step_size=3, gamma=f32(0.5)),
                                          base, 12)})
    cases.append({"name": "cosine", "kind": "cosine", "baseLearningRate": base,
                  "tMax": 10, "etaMin": f32(0.001),
                  "learningRates": lrs_of(lambda o: S.CosineAnnealingLR(o, T_max=10,
                                                                        eta_min=f32(0.001)),
                                          base, 25)})
    cases.append({"name": "cosine_eta0", "kind": "cosine", "baseLearningRate": base,
                  "tMax": 7, "etaMin": 0.0,
                  "learningRates": lrs_of(lambda o: S.CosineAnnealingLR(o, T_max=7), base, 7)})
    cases.append({"name": "warmup_constant", "kind": "warmupConstant", "baseLearningRate": base,
                  "warmupSteps": 4, "startFactor": f32(0.25),
                  "learningRates": lrs_of(lambda o: S.LinearLR(o, start_factor=f32(0.25),
                                                               end_factor=1.0, total_iters=4),
                                          base, 8)})
    cases.append({"name": "warmup_from_zero", "kind": "warmupConstant", "baseLearningRate": base,
                  "warmupSteps": 5, "startFactor": 0.0,
                  "learningRates": lrs_of(lambda o: S.LambdaLR(o, lambda t: min(1.0, t / 5)),
                                          base, 9)})

    def warmup_cosine(o):
        warm = S.LinearLR(o, start_factor=f32(0.25), end_factor=1.0, total_iters=4)
        cos = S.CosineAnnealingLR(o, T_max=6, eta_min=f32(0.001))
        return S.SequentialLR(o, [warm, cos], milestones=[4])
    cases.append({"name": "warmup_cosine", "kind": "warmupCosine", "baseLearningRate": base,
                  "warmupSteps": 4, "startFactor": f32(0.25), "tMax": 6, "etaMin": f32(0.001),
                  "learningRates": lrs_of(warmup_cosine, base, 12)})
    return {"generator": "Scripts/make_optim_fixtures.py", "torch": torch.__version__,
            "cases": cases}


def clip_fixtures():
    gen = torch.Generator().manual_seed(7)
    shapes = [[3, 4], [4], [2, 3]]
    grads = [torch.randn(s, generator=gen, dtype=torch.float32) for s in shapes]
    cases = []
    for name, max_norm, present in [("clips", 1.0, [True, True, True]),
                                    ("no_clip", 100.0, [True, True, True]),
                                    ("clips_with_nil_grad", 0.5, [True, False, True])]:
        params = [torch.nn.Parameter(torch.zeros(s)) for s in shapes]
        for p, g, has in zip(params, grads, present):
            p.grad = g.clone() if has else None
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm=f32(max_norm), foreach=False)
        cases.append({"name": name, "maxNorm": f32(max_norm), "norm": float(norm),
                      "before": [flat(g) if has else None for g, has in zip(grads, present)],
                      "after": [flat(p.grad) if p.grad is not None else None for p in params]})
    return {"generator": "Scripts/make_optim_fixtures.py", "torch": torch.__version__,
            "shapes": shapes, "cases": cases}


def write(name, obj):
    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.join(OUT_DIR, name)
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")
    print("wrote", os.path.relpath(path), file=sys.stderr)


def main():
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    optimizers = optimizer_fixtures()
    check_amsgrad_matters(optimizers)
    write("optimizers.json", optimizers)
    write("schedules.json", schedule_fixtures())
    write("clip_grad_norm.json", clip_fixtures())


if __name__ == "__main__":
    main()
