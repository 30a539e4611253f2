"""`avops restart` recreates (drift gone), `logs` prefixes lines, a lock keeps two avops apart,
and an interrupted rebuild converges on the next run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from audiovoice_ops.core.errors import ExitCode
from audiovoice_ops.core.lock import project_lock

pytestmark = pytest.mark.docker


def test_restart_removes_env_drift(build_project):
    assert build_project.avops("rebuild").returncode == 0
    build_project.env_file.write_text(
        build_project.env_file.read_text().replace("LOW_VRAM=true", "LOW_VRAM=false")
    )
    assert build_project.avops("env").returncode == 1  # drift
    result = build_project.avops("restart", "app")
    assert result.returncode == 0, result.stderr
    env = build_project.avops("env", "--json")
    assert env.returncode == 0, env.stdout
    app = next(s for s in json.loads(env.stdout)["services"] if s["service"] == "app")
    assert app["environment"]["LOW_VRAM"] == "false" and app["drift"] == []
    assert "LOW_VRAM=false" in build_project.avops("logs", "app").stdout


def test_restart_without_image_says_rebuild(build_project):
    result = build_project.avops("restart", "app")
    assert result.returncode == ExitCode.OPERATION_FAILED
    assert "avops rebuild --service app" in result.stderr


def test_logs_prefix_and_tail(build_project):
    assert build_project.avops("rebuild").returncode == 0
    result = build_project.avops("logs", "--tail", "1")
    assert result.returncode == 0
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1  # store logs nothing; app's last line only
    assert lines[0].startswith(f"{build_project.name}-app-1") and "LOW_VRAM=true" in lines[0]
    result = build_project.avops("logs", "app", "--json")
    entries = [json.loads(line) for line in result.stdout.splitlines()]
    assert entries[0] == {"container": f"{build_project.name}-app-1", "line": "built by avops"}


def test_logs_follow_stops_cleanly_on_ctrl_c(build_project):
    assert build_project.avops("rebuild").returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "audiovoice_ops", "logs", "-f", "app"],
        env=build_project.cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "built by avops" in out and "Traceback" not in err


def test_second_avops_fails_clearly_while_locked(build_project):
    with project_lock(build_project.name):
        result = build_project.avops("cleanup")
        assert result.returncode == ExitCode.LOCKED
        assert f"pid {os.getpid()}" in result.stderr and "--wait-lock" in result.stderr
    assert build_project.avops("cleanup").returncode == 0


def test_interrupted_rebuild_converges(build_project, docker_client):
    compose = build_project.compose_file
    # Slow the store's readiness so the interrupt lands mid-rebuild, after containers exist.
    compose.write_text(
        compose.read_text().replace(
            'command: ["sh", "-c", "trap \'exit 0\' TERM; touch /tmp/ready;',
            'command: ["sh", "-c", "trap \'exit 0\' TERM; sleep 3; touch /tmp/ready;',
        )
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "audiovoice_ops", "rebuild"],
        env=build_project.cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    selector = {"label": f"com.docker.compose.project={build_project.name}"}
    deadline = time.monotonic() + 60
    while (
        not docker_client.api.containers(all=True, filters=selector) and time.monotonic() < deadline
    ):
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert "Traceback" not in err
    result = build_project.avops("rebuild", "--json")
    assert result.returncode == 0, result.stderr
    names = sorted(c["Names"][0] for c in docker_client.api.containers(all=True, filters=selector))
    assert names == [f"/{build_project.name}-app-1", f"/{build_project.name}-store-1"]
