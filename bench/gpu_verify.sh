#!/usr/bin/env bash
# GPU verification kit: install what is missing from a wheel folder, then run every check.
#
#   bash bench/gpu_verify.sh [REPORT_DIR]          (default: bench/gpu_verify_report)
#
#   PYTHON=python3      the interpreter that has torch (with CUDA on the GPU box)
#   GPU_WHEELS=DIR      the folder bench/gpu_wheels.sh built (default: gpu_wheels/ at the repo
#                       root); installed from with --no-index --no-deps, only what is missing
#   GPU_SITE=DIR        where they go, on PYTHONPATH (default: a fresh temporary folder, removed
#                       at exit, so nothing stale shadows the interpreter's own packages): the
#                       interpreter's environment is never changed
#
# The repo itself is used through PYTHONPATH (no install). The steps, the report
# (REPORT_DIR/gpu_verify.json + .md) and the exit code (0: nothing failed, 1: a step failed)
# come from bench/gpu_verify.py.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
WHEELS="${GPU_WHEELS:-$REPO/gpu_wheels}"
REPORT_DIR="${1:-$REPO/bench/gpu_verify_report}"
if [ -n "${GPU_SITE:-}" ]; then
    SITE="$GPU_SITE"
else
    SITE="$(mktemp -d "${TMPDIR:-/tmp}/gpu_verify_site.XXXXXX")"
    trap 'rm -rf "$SITE"' EXIT
fi
export PYTHONPATH="$REPO:$SITE${PYTHONPATH:+:$PYTHONPATH}"

mapfile -t MISSING < <("$PY" "$REPO/bench/gpu_verify.py" --missing | grep .)
if [ "${#MISSING[@]}" -gt 0 ]; then
    if [ -d "$WHEELS" ]; then
        echo "gpu_verify: installing ${#MISSING[@]} missing packages from $WHEELS" >&2
        # All at once; if one wheel is absent, one by one so the rest still go in. A failed
        # install is not fatal here: the install step reports what is still missing.
        pip_install() {
            "$PY" -m pip install -q --no-index --no-deps --no-compile --target "$SITE" \
                --find-links "$WHEELS" "$@" >&2
        }
        if ! pip_install "${MISSING[@]}" 2>/dev/null; then
            for req in "${MISSING[@]}"; do
                pip_install "$req" || echo "gpu_verify: $req: not installed from $WHEELS" >&2
            done
        fi
    else
        echo "gpu_verify: ${#MISSING[@]} packages missing and no wheel folder at $WHEELS" \
            "(build it with bench/gpu_wheels.sh; set GPU_WHEELS)" >&2
    fi
fi

"$PY" "$REPO/bench/gpu_verify.py" "$REPORT_DIR"
