/// Counter-based random numbers: Philox4x32-10 (Salmon et al., 2011) keyed by a 64-bit seed the
/// host draws from the `RandomGenerator`, with the element group index as counter. Each thread
/// makes 4 words for elements 4·k ..< 4·k + 4, so a given seed gives the same values whatever the
/// launch shape. The stream differs from the CPU's (xoshiro256**) but is as reproducible.
enum RandomKernels {
    static let source = KernelSource(name: "random", body: #"""
struct kiln_u4 { unsigned int x, y, z, w; };

__device__ __forceinline__ kiln_u4 kiln_philox(i64 counter, unsigned int k0, unsigned int k1) {
    unsigned int c0 = (unsigned int)counter, c1 = (unsigned int)((unsigned long long)counter >> 32), c2 = 0u, c3 = 0u;
    for (int round = 0; round < 10; ++round) {
        const unsigned int hi0 = __umulhi(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;
        const unsigned int hi1 = __umulhi(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;
        const unsigned int n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
        k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;
    }
    kiln_u4 r = {c0, c1, c2, c3};
    return r;
}

__device__ __forceinline__ unsigned int kiln_word(kiln_u4 r, int k) {
    return k == 0 ? r.x : (k == 1 ? r.y : (k == 2 ? r.z : r.w));
}

/// 0 with probability threshold/2²⁴ (the top 24 bits of a word below `threshold`), else `keep`.
extern "C" __global__ void kiln_dropout_mask(float* out, i64 count, unsigned int seedLo, unsigned int seedHi,
                                             unsigned int threshold, float keep) {
    KILN_FOR(k, (count + 3) / 4) {
        const kiln_u4 r = kiln_philox(k, seedLo, seedHi);
        for (int j = 0; j < 4; ++j) {
            const i64 e = 4 * k + j;
            if (e < count) out[e] = (kiln_word(r, j) >> 8) >= threshold ? keep : 0.0f;
        }
    }
}

/// Uniform in [low, low + 2²⁴·scale): 24 random bits per element.
extern "C" __global__ void kiln_fill_uniform(float* out, i64 count, unsigned int seedLo, unsigned int seedHi,
                                             float low, float scale) {
    KILN_FOR(k, (count + 3) / 4) {
        const kiln_u4 r = kiln_philox(k, seedLo, seedHi);
        for (int j = 0; j < 4; ++j) {
            const i64 e = 4 * k + j;
            if (e < count) out[e] = (float)(kiln_word(r, j) >> 8) * scale + low;
        }
    }
}

/// Normal(mean, std) by Box–Muller on pairs of words: u1 ∈ (0, 1], u2 ∈ [0, 1).
extern "C" __global__ void kiln_fill_normal(float* out, i64 count, unsigned int seedLo, unsigned int seedHi,
                                            float mean, float std) {
    KILN_FOR(k, (count + 3) / 4) {
        const kiln_u4 r = kiln_philox(k, seedLo, seedHi);
        for (int pair = 0; pair < 2; ++pair) {
            const unsigned int a = pair == 0 ? r.x : r.z, b = pair == 0 ? r.y : r.w;
            const double u1 = ((double)a + 1.0) * 2.3283064365386963e-10;
            const double u2 = (double)b * 2.3283064365386963e-10;
            const double radius = sqrt(-2.0 * log(u1));
            const double angle = 6.283185307179586 * u2;
            const i64 e = 4 * k + 2 * pair;
            if (e < count) out[e] = (float)(radius * cos(angle)) * std + mean;
            if (e + 1 < count) out[e + 1] = (float)(radius * sin(angle)) * std + mean;
        }
    }
}
"""#, entries: ["kiln_dropout_mask", "kiln_fill_uniform", "kiln_fill_normal"])
}
