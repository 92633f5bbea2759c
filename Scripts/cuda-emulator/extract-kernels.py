#!/usr/bin/env python3
"""Writes each kernel source of Sources/KilnCUDA/Kernels (the prelude plus one group) as a C++
file for the emulator, with a registration of each entry point: `cooperative` when the kernel
reaches a block barrier or a warp shuffle (its threads then run concurrently)."""
import glob, os, re, sys

root, out = sys.argv[1], sys.argv[2]
kernels = os.path.join(root, 'Sources/KilnCUDA/Kernels')
text = lambda path: re.search(r'#"""\n(.*?)\n"""#', open(path).read(), re.S).group(1) + '\n'
prelude = text(os.path.join(kernels, 'KernelPrelude.swift'))
os.makedirs(out, exist_ok=True)
for path in sorted(glob.glob(os.path.join(kernels, '*Kernels.swift'))):
    body = text(path)
    entries = re.findall(r'"(\w+)"', re.search(r'entries: \[(.*?)\]\)', open(path).read(), re.S).group(1))
    lines = ['#include "emu.h"', prelude, body]
    for entry in entries:
        definition = re.search(r'void ' + entry + r'\(.*?\n}\n', body, re.S)
        if not definition:
            sys.exit(f'{path}: no definition of {entry}')
        cooperative = any(k in definition.group(0) for k in ('kiln_block', '__syncthreads', '__shfl'))
        lines.append(f'static EmuRegistrar reg_{entry}("{entry}", emu_launcher({entry}), {str(cooperative).lower()});')
    name = os.path.basename(path).replace('.swift', '.cpp')
    open(os.path.join(out, name), 'w').write('\n'.join(lines) + '\n')
