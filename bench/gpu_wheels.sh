#!/usr/bin/env bash
# Build the wheel folder bench/gpu_verify.sh installs from on an air-gapped GPU box.
#
#   bash bench/gpu_wheels.sh OUT_DIR [--python-version 3.11] [--have FREEZE] [--torch VERSION]
#
# Run it on a connected machine. It downloads, with --no-deps, the wheels listed by
# `python3 bench/gpu_verify.py --requirements` (the engines' import-time needs, the avops CLI,
# pytest; never torch, triton or the nvidia-* CUDA libraries: the box has its own) for the
# box's Python on manylinux x86_64. The two sdist-only packages (pure Python) are built into
# wheels here; a pin without a wheel for the box's Python is replaced by the newest release that
# has one (printed).
#   --python-version  the box's `python3 -V` (default: this machine's python3)
#   --have FREEZE     `python3 -m pip freeze` of the box: what it has already is left out
#   --torch VERSION   the box's torch.__version__: adds the matching torchaudio (left out when
#                     FREEZE has it; without this option torchaudio must be on the box already)
# Fails when the folder exceeds 64 MiB (what can be carried to the box); prints its size.
set -euo pipefail

LIMIT_BYTES=$((64 * 1024 * 1024))
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-python3}"

usage() {
    echo "usage: bash bench/gpu_wheels.sh OUT_DIR [--python-version X.Y] [--have FREEZE]" \
        "[--torch VERSION]" >&2
    exit 2
}

[ $# -ge 1 ] || usage
OUT="$1"; shift
PYVER="$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
HAVE=""
TORCH=""
while [ $# -gt 0 ]; do
    case "$1" in
        --python-version) PYVER="${2:?}"; shift 2 ;;
        --have) HAVE="${2:?}"; shift 2 ;;
        --torch) TORCH="${2:?}"; shift 2 ;;
        *) usage ;;
    esac
done
[ -z "$HAVE" ] || [ -f "$HAVE" ] || { echo "gpu_wheels: --have: no such file: $HAVE" >&2; exit 2; }

# PEP 503 names: what pip freeze and the requirement pins are compared by.
norm() { tr '[:upper:]' '[:lower:]' | sed -E 's/[-_.]+/-/g'; }
HAVE_NAMES=""
if [ -n "$HAVE" ]; then
    HAVE_NAMES="$(tr -d '\r' <"$HAVE" | sed -E 's/[ ]*(==|@| |;).*//' | norm)"
fi
have() { [ -n "$HAVE_NAMES" ] && grep -qxF "$(echo "$1" | norm)" <<<"$HAVE_NAMES"; }

mkdir -p "$OUT"
REQS=()
while read -r req; do
    name="${req%%==*}"
    case "$(echo "$name" | norm)" in
        nvidia-ml-py) ;;  # NVML's bindings (avops), not a CUDA library
        torch | triton | nvidia-*) continue ;;
    esac
    have "$name" && { echo "gpu_wheels: $name: on the box already, left out"; continue; }
    REQS+=("$req")
done < <("$PY" "$HERE/gpu_verify.py" --requirements)
if [ -n "$TORCH" ] && ! have torchaudio; then
    REQS+=("torchaudio==${TORCH%%+*}")  # torchaudio's releases follow torch's version
fi

PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
# Pure-Python packages published as sdists only, at the versions pinned (built here).
SDIST_ONLY=" antlr4-python3-runtime encodec "

fetch() {
    "$PY" -m pip download -q --no-deps --only-binary=:all: --implementation cp \
        --python-version "$PYVER" "${PLATFORMS[@]}" -d "$OUT" "$1" >/dev/null 2>&1
}

build_pure() {
    local built wheel
    built="$(mktemp -d)"
    "$PY" -m pip wheel -q --no-deps -w "$built" "$1" >/dev/null
    for wheel in "$built"/*.whl; do
        case "$wheel" in
            *-py3-none-any.whl | *-py2.py3-none-any.whl) mv "$wheel" "$OUT/" ;;
            *) echo "gpu_wheels: $1 built a binary wheel ($wheel)" >&2; return 1 ;;
        esac
    done
    rm -rf "$built"
}

for req in "${REQS[@]}"; do
    name="${req%%==*}"
    if [[ "$SDIST_ONLY" == *" $(echo "$name" | norm) "* ]]; then
        build_pure "$req" || exit 1
    elif ! fetch "$req"; then
        # The tested pin has no wheel for this Python (e.g. numpy 2.4 needs >= 3.11): the newest
        # release that has one, said out loud.
        fetch "$name" || { echo "gpu_wheels: $name: no wheel for Python $PYVER" >&2; exit 1; }
        echo "gpu_wheels: $req: no wheel for Python $PYVER;" \
            "took the newest with one (not the tested pin)" >&2
    fi
done

bytes="$(du -sb "$OUT" | cut -f1)"
ls -1 "$OUT"
mib="$(awk "BEGIN {printf \"%.1f\", $bytes / 1048576}")"
echo "gpu_wheels: $(ls -1 "$OUT" | wc -l) files, $((bytes / 1024)) KiB ($mib MiB) in $OUT"
if [ "$bytes" -gt "$LIMIT_BYTES" ]; then
    echo "gpu_wheels: over the 64 MiB that can be carried to the GPU box; largest:" >&2
    ls -S -s --block-size=K "$OUT" | sed -n 2,6p >&2
    exit 1
fi
