"""avops and Debian's docker-compose (an independent client) see the same project."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(
        shutil.which("docker-compose") is None and not __import__("os").environ.get("CI"),
        reason="Debian's docker-compose is not installed (.ci/run installs it)",
    ),
]


def compose(project, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker-compose", "-p", project.name, "-f", str(project.compose_file), *args],
        capture_output=True,
        text=True,
        cwd=project.dir,
        timeout=180,
    )


def test_avops_sees_containers_compose_made(project):
    result = compose(project, "up", "-d")
    assert result.returncode == 0, result.stderr
    deadline = time.monotonic() + 30
    while True:
        status = project.avops("status", "--json")
        data = json.loads(status.stdout)
        if status.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert status.returncode == 0, data["problems"]
    assert {r["service"] for r in data["services"]} == {"db", "worker"}
    env = project.avops("env", "--json")
    assert env.returncode == 0, env.stdout  # compose's environment matches avops's computation


def test_compose_lists_containers_avops_made(project):
    project.up()
    result = compose(project, "ps")
    assert result.returncode == 0, result.stderr
    assert f"{project.name}-db-1" in result.stdout
    assert f"{project.name}-worker-1" in result.stdout
    names = compose(project, "ps", "-q").stdout.split()
    assert len(names) == 2
