/// LSTM and GRU cell kernels (`CPUBackend+Recurrent.swift`); the recurrent products run on cuBLAS
/// before them. Matrices are `[batch, ·]` row views given by their first element and row distance
/// (`*ld`, in elements); optional ones are null pointers.
///
/// LSTM gates are interleaved per block of 16 units: unit u of block u0 = u & ~15 (w = min(16,
/// hidden − u0) units wide) has gate k ∈ {i, f, g, o} at column 4·u0 + k·w + (u − u0).
/// Backward kernels compute the gate gradients per unit and row; their column sums (bias
/// gradients, table rows) are added by one thread per column, in batch order: no atomics.
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

/// Gate gradients replace the activations and dc becomes d/dc_{t−1} (one thread per unit and row);
/// `kiln_add_column_sums` then adds them to the bias and table gradients.
extern "C" __global__ void kiln_lstm_step_backward(int batch, int hidden, float* gates, i64 gld,
                                                   const float* cPrev, i64 cpld, const float* tanhC, i64 tcld,
                                                   const float* dOut, i64 dold, const float* dh, i64 dhld,
                                                   float* dc, i64 dcld) {
    KILN_FOR(e, (i64)batch * hidden) {
        const int b = (int)(e / hidden), u = (int)(e - (i64)b * hidden);
        int w;
        const i64 col = kiln_lstm_column(u, hidden, &w);
        float* g = gates + b * gld + col;
        const float i = g[0], f = g[w], z = g[2 * w], o = g[3 * w];
        const float tc = tanhC[b * tcld + u];
        float dhb = dh[b * dhld + u];
        if (dOut) dhb += dOut[b * dold + u];
        const float dcn = dc[b * dcld + u] + dhb * o * (1.0f - tc * tc);
        const float cp = cPrev ? cPrev[b * cpld + u] : 0.0f;
        g[0] = dcn * z * i * (1.0f - i);
        g[w] = dcn * cp * f * (1.0f - f);
        g[2 * w] = dcn * i * (1.0f - z * z);
        g[3 * w] = dhb * tc * o * (1.0f - o);
        dc[b * dcld + u] = dcn * f;
    }
}

/// For each column c of the `[rows, cols]` matrix m: out[c] += Σ_b m[b, c] (out may be null) and,
/// with `table`, table[tableRows[b], c] += m[b, c]. One thread per column, rows in order: the sums
/// are deterministic and rows that share a table row add up without atomics.
extern "C" __global__ void kiln_add_column_sums(float* out, const float* m, i64 ld, int rows, int cols,
                                                float* table, i64 tld, const int* tableRows) {
    KILN_FOR(c, (i64)cols) {
        float s = 0.0f;
        for (int b = 0; b < rows; ++b) {
            const float v = m[b * ld + c];
            s += v;
            if (table) table[(i64)tableRows[b] * tld + c] += v;
        }
        if (out) out[c] += s;
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

/// GRU backward (one thread per unit and row): gi ← d/d(x·W_ihᵀ + b_ih), gh ← d/d(h·W_hhᵀ + b_hh),
/// dhCarry ← dh·z; the bias gradients are their column sums (`kiln_add_column_sums`).
extern "C" __global__ void kiln_gru_cell_backward(int batch, int hidden, float* gi, i64 gild, float* gh, i64 ghld,
                                                  const float* hPrev, i64 hpld, const float* dOut, i64 dold,
                                                  float* dhCarry, i64 dhld) {
    const int H = hidden;
    KILN_FOR(e, (i64)batch * hidden) {
        const int b = (int)(e / hidden), u = (int)(e - (i64)b * hidden);
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
    }
}
"""#, entries: ["kiln_lstm_step", "kiln_lstm_step_backward", "kiln_add_column_sums", "kiln_gru_cell",
                "kiln_gru_cell_backward"])
}
