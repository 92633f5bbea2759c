#!/usr/bin/env bash
# Runs on a GPU machine without a Swift toolchain, from the repository root, with the bundle of
# Scripts/build-portable.sh: the CUDA backend's checks against the CPU backend, then every
# reference workload with `kiln bench --device cuda` beside the same workload in PyTorch on the same
# GPU, and a table of the ratios. Everything also goes to $OUT (or ./gpu-check-out) as logs/JSON.
#
#   Scripts/gpu-check.sh [BUNDLE]      (default .build-portable/kiln-bundle, or its .tar.xz)
#
# Environment: GPU_CHECK_STEPS (timed steps, default 50), GPU_CHECK_WARMUP (default 5),
# GPU_CHECK_WORKLOADS (default "mlp cnn resnet20 gpt lstm"), GPU_CHECK_SECONDS (the whole run's
# budget, default 540: each part gets a timeout that leaves time for the parts after it and the
# table), KILN_CUDA_TF32=1 (TF32 in cuBLAS; the PyTorch runs then get --tf32 too).
# Exit status: non-zero when a check failed or a run broke.
set -uo pipefail
cd "$(dirname "$0")/.."

bundle="${1:-.build-portable/kiln-bundle}"
if [ ! -x "$bundle/kiln" ]; then
    archive="$bundle"; [ -f "$archive" ] || archive="$bundle.tar.xz"
    [ -f "$archive" ] || { echo "no bundle at $bundle: run Scripts/build-portable.sh"; exit 2; }
    mkdir -p /tmp/kiln-portable && tar -C /tmp/kiln-portable -xJf "$archive"
    bundle="/tmp/kiln-portable/$(basename "${archive%.tar.xz}")"
fi
out="${OUT:-gpu-check-out}"
mkdir -p "$out"
steps="${GPU_CHECK_STEPS:-50}"
warmup="${GPU_CHECK_WARMUP:-5}"
workloads="${GPU_CHECK_WORKLOADS:-mlp cnn resnet20 gpt lstm}"
python="$(command -v python3 || true)"
status=0
deadline=$((SECONDS + ${GPU_CHECK_SECONDS:-540}))
# At most $1 seconds, keeping $2 seconds of the budget for what follows (at least 5).
limit() { local left=$((deadline - SECONDS - $2)); [ "$left" -gt "$1" ] && left=$1; [ "$left" -lt 5 ] && left=5; echo "$left"; }

# Container images often keep the driver outside the loader's default path.
for dir in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu; do
    if [ -e "$dir/libcuda.so.1" ]; then
        export KILN_CUDA_LIBRARY_PATH="${KILN_CUDA_LIBRARY_PATH:+$KILN_CUDA_LIBRARY_PATH:}$dir"
    fi
done

echo "== machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -4
"$bundle/kiln" info --quick 2>&1 | tee "$out/info.txt"

echo "== CUDA checks against the CPU backend"
timeout "$(limit 240 240)" "$bundle/kiln-cuda-check" 2>&1 | tee "$out/check.txt"
check=${PIPESTATUS[0]}
[ "$check" -eq 0 ] || { echo "kiln-cuda-check exited with $check"; status=1; }

echo "== kiln bench --device cuda ($steps steps after $warmup warm-up)"
# One process for all workloads: kernels compile once (NVRTC) and stay cached.
# shellcheck disable=SC2086
timeout "$(limit 240 100)" "$bundle/kiln" bench $workloads --device cuda --steps "$steps" --warmup "$warmup" --json \
    > "$out/kiln-bench.jsonl" 2> "$out/kiln-bench.err"
bench=$?
cat "$out/kiln-bench.jsonl" "$out/kiln-bench.err"
[ "$bench" -eq 0 ] || { echo "kiln bench exited with $bench"; status=1; }

echo "== PyTorch on the same GPU"
: > "$out/torch-bench.jsonl"
tf32=""; [ "${KILN_CUDA_TF32:-0}" = "1" ] && tf32="--tf32"
if [ -n "$python" ]; then
    for w in $workloads; do
        timeout "$(limit 120 10)" "$python" Benchmarks/peers/torch_workloads_cuda.py "$w" --steps "$steps" --warmup "$warmup" $tf32 \
            >> "$out/torch-bench.jsonl" 2>> "$out/torch-bench.err" || echo "PyTorch $w failed (see torch-bench.err)"
    done
    cat "$out/torch-bench.jsonl"
else
    echo "no python3: PyTorch comparison skipped"
fi

echo "== Kiln / PyTorch throughput on $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)"
if [ -n "$python" ]; then
    "$python" - "$out/kiln-bench.jsonl" "$out/torch-bench.jsonl" <<'PY' | tee "$out/ratios.txt"
import json, sys

def load(path):
    rows = {}
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            r = json.loads(line)
            rows[r["workload"]] = r
    return rows

kiln, torch = load(sys.argv[1]), load(sys.argv[2])
print(f"{'workload':10} {'unit':8} {'Kiln/s':>12} {'PyTorch/s':>12} {'Kiln ms':>9} {'PyTorch ms':>10} {'ratio':>7}")
order = ["mlp", "cnn", "resnet20", "gpt", "lstm"]
for name in sorted(set(kiln) | set(torch), key=lambda n: order.index(n) if n in order else len(order)):
    k, t = kiln.get(name), torch.get(name)
    unit = (k or t)["unit"]
    ks = k[f"{unit}_per_second"] if k else float("nan")
    ts = t[f"{unit}_per_second"] if t else float("nan")
    km = k["step_ms_median"] if k else float("nan")
    tm = t["step_ms_median"] if t else float("nan")
    print(f"{name:10} {unit:8} {ks:12.0f} {ts:12.0f} {km:9.2f} {tm:10.2f} {ks / ts:7.2f}")
print("ratio = Kiln throughput / PyTorch throughput (higher is better for Kiln)")
PY
fi
echo "== checks: $([ "$check" -eq 0 ] && echo PASS || echo FAIL), bench: $([ "$bench" -eq 0 ] && echo ok || echo FAILED)"
exit $status
