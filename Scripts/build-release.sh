#!/usr/bin/env bash
# Release build of the `kiln` CLI for this machine's CPU: the Swift kernels (GELU, exp, tanh,
# dropout masks, optimizer updates, …) vectorise to its widest SIMD units (AVX-512 on Zen 4 and
# recent Xeons) instead of the x86-64 baseline. Set KILN_TARGET_CPU to build for another machine:
# `x86-64` (any x86-64 CPU), `znver4`, `skylake-avx512`, … (`swiftc -target-cpu help` lists them).
# Extra arguments go to `swift build` (e.g. `--product MNISTTrainer`).
set -euo pipefail
cd "$(dirname "$0")/.."

args=("$@")
if [ ${#args[@]} -eq 0 ]; then args=(--product kiln); fi
exec swift build -c release -Xswiftc -target-cpu -Xswiftc "${KILN_TARGET_CPU:-native}" "${args[@]}"
