#!/usr/bin/env bash
# The main job on a fresh host: install the avops CLI (no ML stack) into .venv, create .env from
# .env.example if there is none, then build and start the audio-voice stack with `avops rebuild`.
# Extra arguments go to `avops rebuild` (e.g. --gpus off, --service api, --verbose).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/avops ] || { python3 -m venv .venv && .venv/bin/pip install -q .; }
if [ ! -f .env ]; then
    cp .env.example .env
    echo "created .env from .env.example (review LOW_VRAM and API keys)"
fi
exec .venv/bin/avops rebuild "$@"
