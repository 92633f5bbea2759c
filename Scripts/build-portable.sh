#!/usr/bin/env bash
# Builds `kiln` and the CUDA check runner `kiln-cuda-check` for a Linux x86-64 machine without a
# Swift toolchain (e.g. a GPU machine with only a driver and PyTorch): release build with the Swift
# runtime and Foundation linked statically (--static-swift-stdlib; never -static-executable, whose
# static libc cannot dlopen the CUDA libraries), OpenBLAS and its Fortran runtime copied beside the
# binaries, and a wrapper per binary that puts that folder on LD_LIBRARY_PATH.
#
#   Scripts/build-portable.sh [OUTPUT_DIR]     (default .build-portable/kiln-bundle)
#
# The bundle runs where glibc is at least this machine's (2.36 on Debian 12). Binaries are
# stripped; the folder is ~100 MB (Foundation's ICU data in `kiln`, OpenBLAS's kernels for every
# x86-64 generation), so it is also packed as OUTPUT_DIR.tar.xz (~25 MB, must stay under 64 MB),
# which Scripts/gpu-check.sh unpacks. The CUDA libraries are not shipped: Kiln finds the driver,
# cuBLAS and NVRTC at run time (Docs/CUDA.md).
set -euo pipefail
cd "$(dirname "$0")/.."

out="${1:-.build-portable/kiln-bundle}"
scratch="${KILN_PORTABLE_SCRATCH:-.build-portable/build}"   # its own build folder: other flags
products=(kiln kiln-cuda-check)

for product in "${products[@]}"; do
    swift build -c release --static-swift-stdlib --scratch-path "$scratch" --product "$product"
done
bin="$(swift build -c release --static-swift-stdlib --scratch-path "$scratch" --show-bin-path)"

rm -rf "$out"
mkdir -p "$out/lib"
for product in "${products[@]}"; do
    cp "$bin/$product" "$out/lib/$product"
    strip "$out/lib/$product"
    # The wrapper: the bundle's lib folder first on the loader path, then the binary.
    cat > "$out/$product" <<WRAPPER
#!/bin/sh
here="\$(cd "\$(dirname "\$0")" && pwd)"
export LD_LIBRARY_PATH="\$here/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
exec "\$here/lib/$product" "\$@"
WRAPPER
    chmod +x "$out/$product"
done

# Every shared library the binaries need that is not part of glibc or the C++/GCC runtime every
# Linux with PyTorch has: OpenBLAS and, when it is dynamic, libgfortran and libquadmath.
ldd "$out/lib/kiln" "$out/lib/kiln-cuda-check" | awk '/=> \// { print $3 }' | sort -u | while read -r path; do
    case "$(basename "$path")" in
        libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|ld-linux*|libgcc_s.so*|libstdc++.so*) ;;
        *) cp -L "$path" "$out/lib/$(basename "$path")" ;;
    esac
done
for needed in $(ldd "$out/lib/libopenblas.so.0" 2>/dev/null | awk '/=> \// { print $3 }'); do
    case "$(basename "$needed")" in
        libgfortran.so*|libquadmath.so*) cp -L "$needed" "$out/lib/" ;;
    esac
done

# What it needs that the bundle lacks (none expected), and its size.
missing="$(LD_LIBRARY_PATH="$out/lib" ldd "$out/lib/kiln" "$out/lib/kiln-cuda-check" | grep 'not found' || true)"
if [ -n "$missing" ]; then echo "missing libraries:"; echo "$missing"; exit 1; fi
tar -C "$(dirname "$out")" -cf - "$(basename "$out")" | xz -T0 -6 > "$out.tar.xz"
size_kb="$(du -sk "$out" | cut -f1)"
packed_kb="$(du -sk "$out.tar.xz" | cut -f1)"
echo "bundle: $out ($((size_kb / 1024)) MB; $out.tar.xz $((packed_kb / 1024)) MB): $(cd "$out" && ls . lib | tr '\n' ' ')"
if [ "$packed_kb" -ge $((64 * 1024)) ]; then echo "packed bundle exceeds 64 MB"; exit 1; fi
