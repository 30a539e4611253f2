"""A bad setting stops the API and the worker with one line and a non-zero exit, no traceback.

Real processes, started the way the image and tests/service/procs.py start them: uvicorn on
``service.api:app``, ``python -m service.serve`` (the image's CMD) and the Celery worker. None
of them gets far enough to need Redis (the URL points at a closed port).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.service.procs import REPO_ROOT, free_port, worker_command

GOOD_KEY = "k" * 32
API_CMDS = {
    "uvicorn": [
        sys.executable,
        "-m",
        "uvicorn",
        "service.api:app",
        "--host",
        "127.0.0.1",
        "--log-level",
        "warning",
    ],
    "serve": [sys.executable, "-m", "service.serve"],
}
WORKER_CMD = worker_command(f"celery@avt-startup-{os.getpid()}")


def _run(cmd: list[str], tmp_path, **env: str) -> subprocess.CompletedProcess:
    port = str(free_port())
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("API_KEYS", "ADMIN_API_KEYS", "ALLOW_UNAUTHENTICATED", "LOW_VRAM")
    }
    full_env = {
        **base,
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "DATA_DIR": str(tmp_path / "data"),
        "API_PORT": port,
        "API_HOST": "127.0.0.1",
        "API_KEYS": GOOD_KEY,
        "HF_HUB_OFFLINE": "1",
        **env,
    }
    cmd = [*cmd, "--port", port] if cmd[2] == "uvicorn" else cmd
    return subprocess.run(
        cmd, cwd=REPO_ROOT, env=full_env, capture_output=True, text=True, timeout=90
    )


def _assert_refused(proc: subprocess.CompletedProcess, *expected: str) -> None:
    output = (proc.stdout + proc.stderr).strip()
    assert proc.returncode != 0, output
    assert "Traceback" not in output, output
    lines = output.splitlines()
    assert len(lines) == 1, f"expected one line, got:\n{output}"
    assert lines[0].startswith("error: ") and all(word in lines[0] for word in expected), output
    assert "Value error" not in lines[0], "pydantic's prefix is noise to the operator"


BAD_API_SETTINGS = [
    pytest.param({"API_KEYS": "short"}, ("API_KEYS", "16 characters"), id="short-key"),
    pytest.param({"API_KEYS": "", "ADMIN_API_KEYS": ""}, ("no API key configured",), id="no-key"),
    pytest.param({"ADMIN_API_KEYS": "sha256:nothex"}, ("ADMIN_API_KEYS",), id="bad-digest"),
    pytest.param({"RATE_LIMIT_BURST": "0"}, ("RATE_LIMIT_BURST",), id="burst-zero"),
    pytest.param({"MAX_UPLOAD_MB": "lots"}, ("MAX_UPLOAD_MB",), id="not-a-number"),
    pytest.param({"JOB_DEADLINE_S": "-1"}, ("JOB_DEADLINE_S",), id="negative-deadline"),
]


@pytest.mark.parametrize("launcher", sorted(API_CMDS))
@pytest.mark.parametrize(("env", "expected"), BAD_API_SETTINGS)
def test_api_refuses_bad_setting_with_one_line(launcher, env, expected, tmp_path):
    _assert_refused(_run(API_CMDS[launcher], tmp_path, **env), *expected)


def test_api_port_not_a_number_is_one_line(tmp_path):
    # serve reads API_PORT itself (uvicorn's --port would override it)
    _assert_refused(_run(API_CMDS["serve"], tmp_path, API_PORT="http"), "API_PORT")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param({"LOW_VRAM": "maybe"}, ("LOW_VRAM", "maybe"), id="low-vram-maybe"),
        pytest.param({"JOB_TTL_SECONDS": "-5"}, ("JOB_TTL_SECONDS",), id="negative-ttl"),
        pytest.param({"MAX_JOB_ATTEMPTS": "two"}, ("MAX_JOB_ATTEMPTS",), id="not-a-number"),
        pytest.param({"API_KEYS": "short"}, ("API_KEYS",), id="short-key"),
    ],
)
def test_worker_refuses_bad_setting_with_one_line(env, expected, tmp_path):
    _assert_refused(_run(WORKER_CMD, tmp_path, **env), *expected)
