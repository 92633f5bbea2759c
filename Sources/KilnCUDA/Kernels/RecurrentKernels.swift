/// LSTM and GRU cell kernels (`CPUBackend+Recurrent.swift`); the recurrent products run on cuBLAS
/// before them. Matrices are `[batch, ·]` row views given by their first element and row distance
/// (`*ld`, in elements); optional ones are null pointers.
///
/// LSTM gates are interleaved per block of 16 units: unit u of block u0 = u & ~15 (w = min(16,
/// hidden − u0) units wide) has gate k ∈ {i, f, g, o} at column 4·u0 + k·w + (u − u0).
/// Backward kernels give each thread one unit and loop over the batch, so bias sums and table
/// rows shared by several batch rows are accumulated without atomics, in batch order.
enum RecurrentKernels {
    static let source = KernelSource(name: "recurrent", body: #"""
/// Column of gate 0 of unit u in the interleaved layout; gates k are `width` apart.
__device__ __forceinline__ i64 kiln_lstm_column(int u, int hidden, int* width) {
    const int u0 = u & ~15;
    *width = min(16, hidden - u0);
    return 4 * (i64)u0 + (u - u0);
}

/// Activations from the pre-activations (`gates` when `fromGates`, plus table row `rows[b]` when
/// `table` is given), then c = f·cPrev + i·g, tanhC = tanh(c), h = o·tanh(c).
extern "C" __global__ void kiln_lstm_step(int batch, int hidden, float* gates, i64 gld, const float* table, i64 tld,
                                          const int* rows, int fromGates, const float* cPrev, i64 cpld,
                                          float* c, i64 cld, float* tanhC, i64 tcld, float* h, i64 hld) {
    KILN_FOR(e, (i64)batch * hidden) {
        const int b = (int)(e / hidden), u = (int)(e - (i64)b * hidden);
        int w;
        const i64 col = kiln_lstm_column(u, hidden, &w);
        float* g = gates + b * gld + col;
        float ai = 0.0f, af = 0.0f, az = 0.0f, ao = 0.0f;
        if (fromGates) { ai = g[0]; af = g[w]; az = g[2 * w]; ao = g[3 * w]; }
        if (table) {
            const float* x = table + (i64)rows[b] * tld + col;
            ai += x[0]; af += x[w]; az += x[2 * w]; ao += x[3 * w];
        }
        const float i = kiln_sigmoid(ai), f = kiln_sigmoid(af), z = tanhf(az), o = kiln_sigmoid(ao);
        const float cp = cPrev ? cPrev[b * cpld + u] : 0.0f;
        const float cn = f * cp + i * z;
        const float tc = tanhf(cn);
        g[0] = i; g[w] = f; g[2 * w] = z; g[3 * w] = o;
        c[b * cld + u] = cn;
        tanhC[b * tcld + u] = tc;
        h[b * hld + u] = o * tc;
    }
}

/// Gate gradients replace the activations; dc becomes d/dc_{t−1}; column sums go to dBias and,
/// with `dTable`, each row's gate gradients to its table row `rows[b]`.
extern "C" __global__ void kiln_lstm_step_backward(int batch, int hidden, float* gates, i64 gld,
                                                   const float* cPrev, i64 cpld, const float* tanhC, i64 tcld,
                                                   const float* dOut, i64 dold, const float* dh, i64 dhld,
                                                   float* dc, i64 dcld, float* dBias, float* dTable, i64 tld,
                                                   const int* rows) {
    KILN_FOR(uu, (i64)hidden) {
        const int u = (int)uu;
        int w;
        const i64 col = kiln_lstm_column(u, hidden, &w);
        float si = 0.0f, sf = 0.0f, sg = 0.0f, so = 0.0f;
        for (int b = 0; b < batch; ++b) {
            float* g = gates + b * gld + col;
            const float i = g[0], f = g[w], z = g[2 * w], o = g[3 * w];
            const float tc = tanhC[b * tcld + u];
            float dhb = dh[b * dhld + u];
            if (dOut) dhb += dOut[b * dold + u];
            const float dcn = dc[b * dcld + u] + dhb * o * (1.0f - tc * tc);
            const float cp = cPrev ? cPrev[b * cpld + u] : 0.0f;
            const float di = dcn * z * i * (1.0f - i);
            const float df = dcn * cp * f * (1.0f - f);
            const float dz = dcn * i * (1.0f - z * z);
            const float dO = dhb * tc * o * (1.0f - o);
            g[0] = di; g[w] = df; g[2 * w] = dz; g[3 * w] = dO;
            dc[b * dcld + u] = dcn * f;
            if (dTable) {
                float* x = dTable + (i64)rows[b] * tld + col;
                x[0] += di; x[w] += df; x[2 * w] += dz; x[3 * w] += dO;
            }
            si += di; sf += df; sg += dz; so += dO;
        }
        if (dBias) {
            float* d = dBias + col;
            d[0] += si; d[w] += sf; d[2 * w] += sg; d[3 * w] += so;
        }
    }
}

/// GRU step (PyTorch's equations): r, z, n replace x·W_ihᵀ + b_ih in `gi`; h = n + z·(hPrev − n).
extern "C" __global__ void kiln_gru_cell(int batch, int hidden, float* gi, i64 gild, const float* gh, i64 ghld,
                                         const float* hPrev, i64 hpld, float* h, i64 hld) {
    const int H = hidden;
    KILN_FOR(e, (i64)batch * hidden) {
        const int b = (int)(e / hidden), u = (int)(e - (i64)b * hidden);
        float* x = gi + b * gild + u;
        const float* y = gh + b * ghld + u;
        const float r = kiln_sigmoid(x[0] + y[0]);
        const float z = kiln_sigmoid(x[H] + y[H]);
        const float n = tanhf(x[2 * H] + r * y[2 * H]);
        const float hp = hPrev ? hPrev[b * hpld + u] : 0.0f;
        x[0] = r; x[H] = z; x[2 * H] = n;
        h[b * hld + u] = n + z * (hp - n);
    }
}

/// GRU backward: gi ← d/d(x·W_ihᵀ + b_ih), gh ← d/d(h·W_hhᵀ + b_hh), dhCarry ← dh·z, bias sums added.
extern "C" __global__ void kiln_gru_cell_backward(int batch, int hidden, float* gi, i64 gild, float* gh, i64 ghld,
                                                  const float* hPrev, i64 hpld, const float* dOut, i64 dold,
                                                  float* dhCarry, i64 dhld, float* dbi, float* dbh) {
    const int H = hidden;
    KILN_FOR(uu, (i64)hidden) {
        const int u = (int)uu;
        float sr = 0.0f, sz = 0.0f, sn = 0.0f, shn = 0.0f;
        for (int b = 0; b < batch; ++b) {
            float* x = gi + b * gild + u;
            float* y = gh + b * ghld + u;
            const float r = x[0], z = x[H], c = x[2 * H], hn = y[2 * H];
            float dh = dhCarry[b * dhld + u];
            if (dOut) dh += dOut[b * dold + u];
            const float hp = hPrev ? hPrev[b * hpld + u] : 0.0f;
            const float dn = dh * (1.0f - z) * (1.0f - c * c);
            const float dr = dn * hn * r * (1.0f - r);
            const float dz = dh * (hp - c) * z * (1.0f - z);
            x[0] = dr; x[H] = dz; x[2 * H] = dn;
            y[0] = dr; y[H] = dz; y[2 * H] = dn * r;
            dhCarry[b * dhld + u] = dh * z;
            sr += dr; sz += dz; sn += dn; shn += dn * r;
        }
        if (dbi) { dbi[u] += sr; dbi[H + u] += sz; dbi[2 * H + u] += sn; }
        if (dbh) { dbh[u] += sr; dbh[H + u] += sz; dbh[2 * H + u] += shn; }
    }
}
"""#, entries: ["kiln_lstm_step", "kiln_lstm_step_backward", "kiln_gru_cell", "kiln_gru_cell_backward"])
}
