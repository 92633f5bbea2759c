import KilnCompute

/// A `[rows, cols]` view's storage, first element and row distance (rank-1 views are one row).
private struct Rows {
    let storage: Storage
    let offset: Int
    let ld: Int

    init(_ v: StridedView) {
        storage = v.storage
        offset = v.layout.offset
        ld = v.layout.rank == 2 ? v.layout.strides[0] : 0
    }

    var start: UInt64 { address(storage, offset) }
    /// `ld` as a BLAS leading dimension (at least the row width: a single row has ld 0 here).
    func blasLD(_ cols: Int) -> Int { max(ld, cols, 1) }
}

private func pointer(_ rows: Rows?) -> KernelArgument { .pointer(rows?.start ?? 0) }
private func ld(_ rows: Rows?) -> KernelArgument { .int64(Int64(rows?.ld ?? 0)) }

extension CUDABackend {
    /// The table rows that batch rows 0..<batch use, uploaded (range-checked first).
    private func pickedRows(_ t: TableRows, batch: Int) -> UInt64 {
        let count = t.table.layout.shape[0]
        let picked = (0..<batch).map { b in
            let index = t.indices[t.offset + b * t.stride]
            precondition(index >= 0 && Int(index) < count, "table row \(index) out of range 0..<\(count)")
            return index
        }
        return upload(picked)
    }

    package func lstmStep(batch: Int, hidden: Int, gates: StridedView, input: TableRows?, hPrev: StridedView?,
                          weightHH: RecurrentWeight, cPrev: StridedView?, c: StridedView, tanhC: StridedView, h: StridedView) {
        guard batch > 0 && hidden > 0 else { return }
        let G = Rows(gates), W = Rows(weightHH.matrix)
        if let hPrev {
            // Gates (+)= hPrev·W_hhᵀ; W_hh's rows are in the gates' interleaved order.
            let HP = Rows(hPrev)
            gemm(GemmProblem(transA: false, transB: true, m: batch, n: 4 * hidden, k: hidden, alpha: 1,
                             beta: input == nil ? 1 : 0,
                             a: HP.storage, aOffset: HP.offset, lda: HP.blasLD(hidden),
                             b: W.storage, bOffset: W.offset, ldb: W.blasLD(hidden),
                             c: G.storage, cOffset: G.offset, ldc: G.blasLD(4 * hidden)))
        }
        let fromGates = input == nil || hPrev != nil
        let table = input.map { Rows($0.table) }
        let rows = input.map { pickedRows($0, batch: batch) } ?? 0
        let CP = cPrev.map(Rows.init)
        let C = Rows(c), TC = Rows(tanhC), H = Rows(h)
        launch(RecurrentKernels.source, "kiln_lstm_step", count: batch * hidden,
               [.int32(Int32(batch)), .int32(Int32(hidden)), pointer(G), ld(G), pointer(table), ld(table),
                .pointer(rows), .int32(fromGates ? 1 : 0), pointer(CP), ld(CP), pointer(C), ld(C), pointer(TC), ld(TC),
                pointer(H), ld(H)])
    }

    package func lstmStepBackward(batch: Int, hidden: Int, gates: StridedView, dGatesNext: StridedView?,
                                  weightHH: RecurrentWeight, cPrev: StridedView?, tanhC: StridedView, dOut: StridedView?,
                                  dh: StridedView, dc: StridedView, dBias: Storage?, inputGradient: TableRows?) {
        guard batch > 0 && hidden > 0 else { return }
        let DH = Rows(dh)
        if let dGatesNext {
            // dh = dGatesNext·W_hh.
            let GN = Rows(dGatesNext), W = Rows(weightHH.matrix)
            gemm(GemmProblem(transA: false, transB: false, m: batch, n: hidden, k: 4 * hidden, alpha: 1, beta: 0,
                             a: GN.storage, aOffset: GN.offset, lda: GN.blasLD(4 * hidden),
                             b: W.storage, bOffset: W.offset, ldb: W.blasLD(hidden),
                             c: DH.storage, cOffset: DH.offset, ldc: DH.blasLD(hidden)))
        }
        let G = Rows(gates), CP = cPrev.map(Rows.init), TC = Rows(tanhC), DO = dOut.map(Rows.init), DC = Rows(dc)
        launch(RecurrentKernels.source, "kiln_lstm_step_backward", count: batch * hidden,
               [.int32(Int32(batch)), .int32(Int32(hidden)), pointer(G), ld(G), pointer(CP), ld(CP), pointer(TC), ld(TC),
                pointer(DO), ld(DO), pointer(DH), ld(DH), pointer(DC), ld(DC)])
        let table = inputGradient.map { Rows($0.table) }
        let rows = inputGradient.map { pickedRows($0, batch: batch) } ?? 0
        if dBias != nil || table != nil {
            addColumnSums(G, rows: batch, cols: 4 * hidden, into: optional(dBias), table: table, tableRows: rows)
        }
    }

    /// Adds the column sums of a `[rows, cols]` matrix to `out` and, with `table`, each row to its
    /// table row.
    private func addColumnSums(_ m: Rows, rows: Int, cols: Int, into out: KernelArgument, table: Rows? = nil,
                               tableRows: UInt64 = 0) {
        launch(RecurrentKernels.source, "kiln_add_column_sums", count: cols,
               [out, pointer(m), ld(m), .int32(Int32(rows)), .int32(Int32(cols)), pointer(table), ld(table),
                .pointer(tableRows)])
    }

    package func gruCell(batch: Int, hidden: Int, gates: StridedView, hiddenGates: StridedView,
                         hPrev: StridedView?, h: StridedView) {
        let GI = Rows(gates), GH = Rows(hiddenGates), HP = hPrev.map(Rows.init), H = Rows(h)
        launch(RecurrentKernels.source, "kiln_gru_cell", count: batch * hidden,
               [.int32(Int32(batch)), .int32(Int32(hidden)), pointer(GI), ld(GI), pointer(GH), ld(GH),
                pointer(HP), ld(HP), pointer(H), ld(H)])
    }

    package func gruCellBackward(batch: Int, hidden: Int, gates: StridedView, hiddenGates: StridedView,
                                 hPrev: StridedView?, dOut: StridedView?, dhCarry: StridedView,
                                 dBias: Storage?, dHiddenBias: Storage?) {
        guard batch > 0 else { return }
        let GI = Rows(gates), GH = Rows(hiddenGates), HP = hPrev.map(Rows.init), DO = dOut.map(Rows.init)
        let DH = Rows(dhCarry)
        launch(RecurrentKernels.source, "kiln_gru_cell_backward", count: batch * hidden,
               [.int32(Int32(batch)), .int32(Int32(hidden)), pointer(GI), ld(GI), pointer(GH), ld(GH),
                pointer(HP), ld(HP), pointer(DO), ld(DO), pointer(DH), ld(DH)])
        if dBias != nil { addColumnSums(GI, rows: batch, cols: 3 * hidden, into: optional(dBias)) }
        if dHiddenBias != nil { addColumnSums(GH, rows: batch, cols: 3 * hidden, into: optional(dHiddenBias)) }
    }
}
