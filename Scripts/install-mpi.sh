#!/usr/bin/env bash
# Installs Open MPI (mpirun and libmpi.so.40) when missing: `kiln train/bench --distributed` loads it
# at run time and the distributed tests launch ranks with mpirun. Kiln builds without it.
set -euo pipefail

if command -v mpirun >/dev/null 2>&1 && ldconfig -p 2>/dev/null | grep -q 'libmpi\.so\.40'; then exit 0; fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "installing libopenmpi-dev openmpi-bin"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libopenmpi-dev openmpi-bin >/dev/null
