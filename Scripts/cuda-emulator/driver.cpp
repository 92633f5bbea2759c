// A fake libcuda.so.1: the driver API calls Kiln makes, on host memory, with kernels from the
// emulated sources (emu.h). Launches run synchronously.
#include "emu.h"
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <thread>
#include <vector>
thread_local dim3 threadIdx, blockIdx;
dim3 blockDim, gridDim;
std::barrier<>* emu_block_barrier;
std::barrier<>** emu_warp_barriers;
double* emu_slots;
struct Kernel { std::string name; EmuLauncher launch; bool cooperative; };
static std::map<std::string, Kernel>& registry() { static std::map<std::string, Kernel> r; return r; }
void emu_register(const char* name, EmuLauncher l, bool c) { registry()[name] = Kernel{name, l, c}; }
static void* current;
static int dummy;
typedef int CUresult;
typedef unsigned long long CUdeviceptr;
extern "C" {
CUresult cuInit(unsigned) { return 0; }
CUresult cuDriverGetVersion(int* v) { *v = 13000; return 0; }
CUresult cuDeviceGetCount(int* n) { *n = 1; return 0; }
CUresult cuDeviceGet(int* d, int o) { *d = o; return o == 0 ? 0 : 101; }
CUresult cuDeviceGetName(char* name, int len, int) { std::snprintf(name, len, "Emulated GPU (CPU)"); return 0; }
CUresult cuDeviceTotalMem_v2(size_t* b, int) { *b = size_t(8) << 30; return 0; }
CUresult cuDeviceGetAttribute(int* v, int a, int) { *v = a == 75 ? 9 : (a == 76 ? 0 : 0); return 0; }
CUresult cuDevicePrimaryCtxRetain(void** c, int) { *c = &dummy; return 0; }
CUresult cuCtxSetCurrent(void* c) { current = c; return 0; }
CUresult cuCtxGetCurrent(void** c) { *c = current; return 0; }
CUresult cuMemGetInfo_v2(size_t* f, size_t* t) { *f = size_t(8) << 30; *t = size_t(8) << 30; return 0; }
CUresult cuMemAlloc_v2(CUdeviceptr* p, size_t bytes) {
    void* m = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
    // Poison fresh memory: a kernel that reads what nobody wrote shows garbage, as on a GPU.
    std::memset(m, 0x7f, (bytes + 255) / 256 * 256);
    *p = (CUdeviceptr)m; return 0;
}
CUresult cuMemFree_v2(CUdeviceptr p) { std::free((void*)p); return 0; }
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr d, const void* s, size_t n, void*) { std::memcpy((void*)d, s, n); return 0; }
// KILN_EMULATOR_TRACE=1 prints every device-to-host copy (each is a wait for the GPU on real hardware).
static const bool traceCopies = std::getenv("KILN_EMULATOR_TRACE") != nullptr;
CUresult cuMemcpyDtoHAsync_v2(void* d, CUdeviceptr s, size_t n, void*) {
    if (traceCopies) std::fprintf(stderr, "[emulator] device-to-host copy of %zu bytes\n", n);
    std::memcpy(d, (void*)s, n); return 0;
}
CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr d, CUdeviceptr s, size_t n, void*) { std::memmove((void*)d, (void*)s, n); return 0; }
CUresult cuMemsetD32Async(CUdeviceptr d, unsigned v, size_t n, void*) {
    unsigned* p = (unsigned*)d; for (size_t i = 0; i < n; ++i) p[i] = v; return 0;
}
CUresult cuModuleLoadDataEx(void** m, const void*, unsigned, int*, void**) { *m = &dummy; return 0; }
CUresult cuModuleLoadData(void** m, const void* image) {
    if (std::memcmp(image, "\x7f" "ELF", 4) != 0) { std::fprintf(stderr, "fake cuModuleLoadData: not an ELF image\n"); return 200; }
    *m = &dummy; return 0;
}
CUresult cuModuleGetFunction(void** f, void*, const char* name) {
    auto it = registry().find(name);
    if (it == registry().end()) return 500;
    *f = &it->second; return 0;
}
CUresult cuStreamCreate(void** s, unsigned) { *s = &dummy; return 0; }
CUresult cuStreamSynchronize(void*) { return 0; }
CUresult cuGetErrorName(CUresult, const char** s) { *s = "CUDA_ERROR_EMULATED"; return 0; }
CUresult cuGetErrorString(CUresult, const char** s) { *s = "emulated error"; return 0; }

// With KILN_EMULATOR_TRACE=1, launches are counted by kernel and listed at exit.
static std::map<std::string, long>& launchCounts() { static std::map<std::string, long> m; return m; }
static void printLaunchCounts() {
    long total = 0;
    for (auto& [name, n] : launchCounts()) { std::fprintf(stderr, "[emulator] %8ld launches of %s\n", n, name.c_str()); total += n; }
    std::fprintf(stderr, "[emulator] %8ld launches in all\n", total);
}

CUresult cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shared, void*, void** params, void** extra) {
    Kernel* k = (Kernel*)f;
    if (traceCopies) {
        static bool registered = (launchCounts(), std::atexit(printLaunchCounts), true);  // the map outlives the handler
        (void)registered;
        ++launchCounts()[k->name];
    }
    if (gx * gy * gz == 0 || bx * by * bz == 0 || bx * by * bz > 1024 || extra) return 1;
    gridDim = {gx, gy, gz};
    blockDim = {bx, by, bz};
    const unsigned threads = bx * by * bz;
    auto blocks = [&](auto body) {
        for (unsigned z = 0; z < gz; ++z) for (unsigned y = 0; y < gy; ++y) for (unsigned x = 0; x < gx; ++x) body(dim3{x, y, z});
    };
    auto setThread = [&](unsigned t) { threadIdx = dim3{t % bx, (t / bx) % by, t / (bx * by)}; };
    if (!k->cooperative) {
        blocks([&](dim3 b) {
            blockIdx = b;
            for (unsigned t = 0; t < threads; ++t) { setThread(t); k->launch(params); }
        });
        return 0;
    }
    if (threads % 32 != 0) { std::fprintf(stderr, "%s: block of %u threads is not whole warps\n", k->name.c_str(), threads); return 1; }
    std::barrier<> block(threads);
    std::vector<std::unique_ptr<std::barrier<>>> warps;
    std::vector<std::barrier<>*> warpPointers;
    for (unsigned w = 0; w < threads / 32; ++w) { warps.emplace_back(new std::barrier<>(32)); warpPointers.push_back(warps.back().get()); }
    std::vector<double> slots(threads);
    emu_block_barrier = &block; emu_warp_barriers = warpPointers.data(); emu_slots = slots.data();
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            setThread(t);
            blocks([&](dim3 b) {
                blockIdx = b;
                k->launch(params);
                block.arrive_and_wait();  // the next block reuses the statics (shared memory)
            });
        });
    }
    for (auto& th : pool) th.join();
    return 0;
}
}
