// A CPU emulation of the CUDA C subset of Kiln's kernels (Sources/KilnCUDA/Kernels): blocks run one
// after another; the threads of a block run one after another, or, for kernels that synchronise
// (block barriers, warp shuffles), as OS threads with a block barrier and one barrier per warp.
// `__shared__` becomes `static` (one block at a time). Device memory is host memory.
#pragma once
#include <cmath>
#include <cstring>
#include <cstdint>
#include <barrier>
#include <functional>
#include <string>
struct dim3 { unsigned x = 1, y = 1, z = 1; };
extern thread_local dim3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;
extern std::barrier<>* emu_block_barrier;
extern std::barrier<>** emu_warp_barriers;
extern double* emu_slots;
#define __global__
#define __device__ static
#define __forceinline__ inline
#define __shared__ static
inline unsigned emu_tid() { return threadIdx.x + threadIdx.y * blockDim.x + threadIdx.z * blockDim.x * blockDim.y; }
inline void __syncthreads() { emu_block_barrier->arrive_and_wait(); }
template <typename T> inline T __shfl_xor_sync(unsigned, T v, int o) {
    unsigned t = emu_tid();
    emu_slots[t] = (double)v;
    emu_warp_barriers[t / 32]->arrive_and_wait();
    T r = (T)emu_slots[t ^ (unsigned)o];
    emu_warp_barriers[t / 32]->arrive_and_wait();
    return r;
}
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }
inline float atomicAdd(float* p, float v) { float old = *p; *p = old + v; return old; }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
#include <math.h>
using std::fmax; using std::sqrt; using std::log; using std::cos; using std::sin;
using EmuLauncher = std::function<void(void**)>;
void emu_register(const char* name, EmuLauncher launcher, bool cooperative);
template <typename... A, std::size_t... I>
void emu_call(void (*f)(A...), void** p, std::index_sequence<I...>) { f(*reinterpret_cast<std::remove_cv_t<A>*>(p[I])...); }
template <typename... A> EmuLauncher emu_launcher(void (*f)(A...)) {
    return [f](void** p) { emu_call(f, p, std::index_sequence_for<A...>{}); };
}
struct EmuRegistrar { EmuRegistrar(const char* n, EmuLauncher l, bool c) { emu_register(n, l, c); } };
