#!/usr/bin/env bash
# Sets up what is missing on a Debian/Ubuntu machine with Swift 6, then trains the MNIST MLP:
#   1. libopenblas-dev and pkg-config (apt), if not installed;
#   2. MNIST into data/ (Scripts/fetch-data.sh, sha256-verified), if not there;
#   3. a release build of the `kiln` CLI for this CPU (Scripts/build-release.sh);
#   4. `kiln train mnist-mlp` with the arguments given to this script (default: --epochs 10 --seed 1).
set -euo pipefail
cd "$(dirname "$0")/.."

Scripts/install-deps.sh
Scripts/fetch-data.sh --only mnist
Scripts/build-release.sh
if [ $# -eq 0 ]; then set -- --epochs 10 --seed 1; fi
exec .build/release/kiln train mnist-mlp "$@"
