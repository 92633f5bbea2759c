import KilnCompute

extension Checker {
    /// Step `t` of a `[batch, steps, width]` buffer: rows `steps·width` apart.
    private func step(_ t: Int, batch: Int, steps: Int, width: Int) -> Layout {
        Layout(shape: [batch, width], strides: [steps * width, 1], offset: t * width)
    }

    func checkRecurrent() {
        let batch = 5, steps = 3, t = 1, vocabulary = 13
        // 40 units: two full blocks of 16 and a partial block of 8 in the interleaved gate layout.
        let hidden = 40, g4 = 4 * hidden
        let gl = step(t, batch: batch, steps: steps, width: g4), hl = step(t, batch: batch, steps: steps, width: hidden)
        let hPrevLayout = step(t - 1, batch: batch, steps: steps, width: hidden)
        let weight = twin(values(g4 * hidden, -0.3, 0.3))
        let table = twin(values(vocabulary * g4))
        let indices = (0..<(batch * steps)).map { _ in Int32(random.nextInt(below: vocabulary)) }
        for (useInput, useHPrev, useCPrev) in [(false, true, true), (true, true, true), (true, false, false), (false, false, true)] {
            let gates = twin(values(batch * steps * g4, -2, 2))
            let states = twin(values(batch * steps * hidden)), cPrev = twin(values(batch * hidden))
            let c = output(batch * steps * hidden), tanhC = output(batch * steps * hidden), h = output(batch * steps * hidden)
            func run(_ backend: any Backend, _ view: (Twin, Layout) -> StridedView) {
                let input = useInput ? TableRows(table: view(table, Layout(contiguous: [vocabulary, g4])), indices: indices,
                                                 offset: t, stride: steps) : nil
                backend.lstmStep(batch: batch, hidden: hidden, gates: view(gates, gl), input: input,
                                 hPrev: useHPrev ? view(states, hPrevLayout) : nil,
                                 weightHH: backend.recurrentWeight(view(weight, Layout(contiguous: [g4, hidden])), hidden: hidden),
                                 cPrev: useCPrev ? view(cPrev, Layout(contiguous: [batch, hidden])) : nil,
                                 c: view(c, hl), tanhC: view(tanhC, hl), h: view(h, hl))
            }
            run(cpu) { $0.view($1).cpu }
            run(gpu) { $0.view($1).gpu }
            let label = "lstmStep input \(useInput) hPrev \(useHPrev) cPrev \(useCPrev)"
            compare("\(label): gates", gates, tolerance: 2e-5)
            compare("\(label): c", c, tolerance: 2e-5)
            compare("\(label): tanhC", tanhC, tolerance: 2e-5)
            compare("\(label): h", h, tolerance: 2e-5)
        }

        for (useNext, useOut, useInput) in [(true, true, true), (false, false, false), (true, false, true)] {
            // Activations in (0, 1) (tanh gates in (−1, 1) work the same for the formulas).
            let gates = twin(values(batch * steps * g4, 0.05, 0.95))
            let next = twin(values(batch * g4)), cPrev = twin(values(batch * hidden)), tanhC = twin(values(batch * hidden))
            let dOut = twin(values(batch * hidden)), dh = twin(values(batch * hidden)), dc = twin(values(batch * hidden))
            let dBias = twin(values(g4)), dTable = twin(values(vocabulary * g4))
            func run(_ backend: any Backend, _ view: (Twin, Layout) -> StridedView, _ storage: (Twin) -> Storage) {
                let rows = Layout(contiguous: [batch, hidden])
                let input = useInput ? TableRows(table: view(dTable, Layout(contiguous: [vocabulary, g4])), indices: indices,
                                                 offset: t, stride: steps) : nil
                backend.lstmStepBackward(batch: batch, hidden: hidden, gates: view(gates, gl),
                                         dGatesNext: useNext ? view(next, Layout(contiguous: [batch, g4])) : nil,
                                         weightHH: backend.recurrentWeight(view(weight, Layout(contiguous: [g4, hidden])), hidden: hidden),
                                         cPrev: view(cPrev, rows), tanhC: view(tanhC, rows),
                                         dOut: useOut ? view(dOut, rows) : nil, dh: view(dh, rows), dc: view(dc, rows),
                                         dBias: storage(dBias), inputGradient: input)
            }
            run(cpu, { $0.view($1).cpu }, { $0.cpu })
            run(gpu, { $0.view($1).gpu }, { $0.gpu })
            let label = "lstmStepBackward next \(useNext) dOut \(useOut) input \(useInput)"
            compare("\(label): gate gradients", gates, tolerance: 2e-5)
            compare("\(label): dh", dh, tolerance: 2e-5)
            compare("\(label): dc", dc, tolerance: 2e-5)
            compare("\(label): dBias", dBias, tolerance: 2e-5)
            compare("\(label): table gradient", dTable, tolerance: 2e-5)
        }

        let g3 = 3 * hidden
        let gruLayout = step(t, batch: batch, steps: steps, width: g3)
        for useHPrev in [true, false] {
            let gates = twin(values(batch * steps * g3, -2, 2)), hiddenGates = twin(values(batch * g3, -2, 2))
            let hPrev = twin(values(batch * hidden)), h = output(batch * steps * hidden)
            let rows = Layout(contiguous: [batch, hidden]), hiddenRows = Layout(contiguous: [batch, g3])
            cpu.gruCell(batch: batch, hidden: hidden, gates: gates.view(gruLayout).cpu, hiddenGates: hiddenGates.view(hiddenRows).cpu,
                        hPrev: useHPrev ? hPrev.view(rows).cpu : nil, h: h.view(hl).cpu)
            gpu.gruCell(batch: batch, hidden: hidden, gates: gates.view(gruLayout).gpu, hiddenGates: hiddenGates.view(hiddenRows).gpu,
                        hPrev: useHPrev ? hPrev.view(rows).gpu : nil, h: h.view(hl).gpu)
            compare("gruCell hPrev \(useHPrev): activations", gates, tolerance: 2e-5)
            compare("gruCell hPrev \(useHPrev): h", h, tolerance: 2e-5)

            let activations = twin(values(batch * steps * g3, 0.05, 0.95))
            let dOut = twin(values(batch * hidden)), carry = twin(values(batch * hidden))
            let dBias = twin(values(g3)), dHiddenBias = twin(values(g3))
            cpu.gruCellBackward(batch: batch, hidden: hidden, gates: activations.view(gruLayout).cpu,
                                hiddenGates: hiddenGates.view(hiddenRows).cpu, hPrev: useHPrev ? hPrev.view(rows).cpu : nil,
                                dOut: dOut.view(rows).cpu, dhCarry: carry.view(rows).cpu, dBias: dBias.cpu,
                                dHiddenBias: dHiddenBias.cpu)
            gpu.gruCellBackward(batch: batch, hidden: hidden, gates: activations.view(gruLayout).gpu,
                                hiddenGates: hiddenGates.view(hiddenRows).gpu, hPrev: useHPrev ? hPrev.view(rows).gpu : nil,
                                dOut: dOut.view(rows).gpu, dhCarry: carry.view(rows).gpu, dBias: dBias.gpu,
                                dHiddenBias: dHiddenBias.gpu)
            let label = "gruCellBackward hPrev \(useHPrev)"
            compare("\(label): input gate gradients", activations, tolerance: 2e-5)
            compare("\(label): hidden gate gradients", hiddenGates, tolerance: 2e-5)
            compare("\(label): dhCarry", carry, tolerance: 2e-5)
            compare("\(label): dBias", dBias, tolerance: 2e-5)
            compare("\(label): dHiddenBias", dHiddenBias, tolerance: 2e-5)
        }
    }
}
