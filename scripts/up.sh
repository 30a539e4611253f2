#!/usr/bin/env bash
# The main job on a fresh host: install the avops CLI (no ML stack) into .venv, create .env from
# .env.example if there is none, then build and start the audio-voice stack with `avops rebuild`.
# Extra arguments go to `avops rebuild` (e.g. --gpus off, --service api, --verbose).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/avops ] || { python3 -m venv .venv && .venv/bin/pip install -q .; }
if [ ! -f .env ]; then
    # Private from the first byte (it holds the API keys), with a fresh random client and admin key.
    (umask 077 && cp .env.example .env)
    chmod 600 .env
    key() { python3 -c 'import secrets; print(secrets.token_urlsafe(32))'; }
    sed -i -e "s|^API_KEYS=\$|API_KEYS=$(key)|" -e "s|^ADMIN_API_KEYS=\$|ADMIN_API_KEYS=$(key)|" .env
    echo "created .env from .env.example with new random API_KEYS and ADMIN_API_KEYS (mode 600)"
    echo "review LOW_VRAM; clients send: Authorization: Bearer <a key from API_KEYS>"
fi
exec .venv/bin/avops rebuild "$@"
