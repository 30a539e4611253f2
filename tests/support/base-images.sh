#!/usr/bin/env bash
# Base images for the test stacks, made locally because no registry is reachable:
#   avops-test/busybox:latest   from the host's busybox-static (a few MB, seconds)
#   avops-test/python:bookworm  a minimal Debian with python3-venv (mmdebstrap, a few minutes)
# Idempotent: an image that already exists is kept.
set -euo pipefail

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

if ! have_image avops-test/busybox:latest; then
    root=$(mktemp -d)
    mkdir -p "$root/bin" "$root/tmp" "$root/data" "$root/etc"
    chmod 1777 "$root/tmp" "$root/data"
    cp /bin/busybox "$root/bin/busybox"
    for applet in $(/bin/busybox --list); do
        [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
    done
    tar -C "$root" -c . | docker import - avops-test/busybox:latest >/dev/null
    rm -rf "$root"
    echo "made avops-test/busybox:latest"
fi

if [ "${AVOPS_SKIP_PYTHON_IMAGE:-0}" != 1 ] && ! have_image avops-test/python:bookworm; then
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    mirror=${mirror:-http://deb.debian.org/debian}
    mmdebstrap --quiet --variant=essential --include=python3-venv,ca-certificates,libstdc++6 \
        bookworm - "$mirror" </dev/null | docker import - avops-test/python:bookworm >/dev/null
    echo "made avops-test/python:bookworm"
fi
