#!/usr/bin/env bash
# Builds an emulated CUDA device for machines without a GPU: a fake driver (libcuda.so.1) whose
# kernels are Kiln's CUDA C sources compiled as C++ for the CPU (emu.h: blocks in turn, the threads
# of a block concurrently when they synchronise), and a fake cuBLAS (libcublas.so.13, sgemm by
# loops). NVRTC stays the real one (it compiles the CUBINs the backend loads; the fake driver
# checks they are ELF images and runs the emulated kernels instead).
#
#   Scripts/cuda-emulator/build.sh [OUT]       (default .build/cuda-emulator)
#   KILN_CUDA_LIBRARY_PATH=OUT .build/debug/kiln-cuda-check
#
# KILN_EMULATOR_TRACE=1 prints each device-to-host copy (a wait for the GPU on real hardware) and,
# at exit, the launches per kernel. Built with -fsanitize=address (and run with libasan preloaded),
# it reports kernels that write outside their buffers.
#
# It checks the backend's host code (argument marshalling, launch shapes, cuBLAS mapping) and the
# kernels' logic against the CPU backend; not the GPU's timing, memory model or libdevice math.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$root/.build/cuda-emulator}"
cxx="${CXX:-$(command -v g++ || command -v clang++)}"
mkdir -p "$out/src"
python3 "$here/extract-kernels.py" "$root" "$out/src"
"$cxx" -std=c++20 -O1 -shared -fPIC -I"$here" -o "$out/libcuda.so.1" "$here/driver.cpp" "$out"/src/*.cpp -lpthread
"$cxx" -std=c++20 -O1 -shared -fPIC -o "$out/libcublas.so.13" "$here/cublas.cpp"
echo "emulated CUDA device in $out: KILN_CUDA_LIBRARY_PATH=$out"
