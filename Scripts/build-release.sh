#!/usr/bin/env bash
# Release build of the `kiln` CLI for this machine's CPU: the Swift kernels (GELU, exp, tanh,
# dropout masks, optimizer updates, …) vectorise to its widest SIMD units (AVX-512 on Zen 4 and
# recent Xeons) instead of the x86-64 baseline, with fused multiply-adds where the CPU has them.
# Set KILN_TARGET_CPU to build for another machine:
# `x86-64` (any x86-64 CPU), `znver4`, `skylake-avx512`, … (`swiftc -target-cpu help` lists them).
# Extra arguments go to `swift build` (e.g. `--product MNISTTrainer`).
set -euo pipefail
cd "$(dirname "$0")/.."

args=("$@")
if [ ${#args[@]} -eq 0 ]; then args=(--product kiln); fi
cpu=${KILN_TARGET_CPU:-native}
flags=(-Xswiftc -target-cpu -Xswiftc "$cpu")
# Kernels written with fused multiply-adds (KILN_FMA) need the instruction: this machine's CPU when
# building for it, else say KILN_FMA=1 for a target CPU that has it (x86-64-v3 and later, znver*, …).
if [ "${KILN_FMA:-}" = 1 ] || { [ "$cpu" = native ] && grep -qw fma /proc/cpuinfo 2>/dev/null; }; then
    flags+=(-Xswiftc -DKILN_FMA)
fi
exec swift build -c release "${flags[@]}" "${args[@]}"
