"""Shared fixtures: a real Docker Engine, the locally made busybox image, and throw-away projects.

Docker tests skip (with the reason) when no engine answers, except under CI where
``AVOPS_TEST_REQUIRE_DOCKER=1`` turns that into a failure, so CI can never pass by skipping them.
"""

from __future__ import annotations

import os
import shutil
import signal
import uuid
from pathlib import Path

import pytest

from tests.support import dockerenv

FIXTURES = Path(__file__).parent / "fixtures"

# A suite started in the background by a non-interactive shell (`cmd &`, nohup) inherits SIGINT
# ignored, and so would every avops process the Ctrl-C tests start: the signal they send would
# vanish. A Python handler here is reset to the default in exec'd children, so they start with
# Ctrl-C working, as in a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def docker_client():
    client = dockerenv.client_or_none()
    if client is None:
        if os.environ.get("AVOPS_TEST_REQUIRE_DOCKER") == "1":
            pytest.fail(
                "AVOPS_TEST_REQUIRE_DOCKER=1 but no Docker Engine answers on the default socket"
            )
        pytest.skip(
            "no Docker Engine answers on the default socket (start dockerd to run these tests)"
        )
    return client


@pytest.fixture(scope="session")
def busybox_image(docker_client) -> str:
    return dockerenv.ensure_busybox_image(docker_client)


@pytest.fixture
def project_name() -> str:
    return f"avt{uuid.uuid4().hex[:8]}"


@pytest.fixture
def stack_dir(tmp_path: Path) -> Path:
    """A copy of the fixture stack with its .env, free to edit."""
    target = tmp_path / "stack"
    shutil.copytree(FIXTURES / "stack", target)
    shutil.copy(target / ".env.example", target / ".env")
    return target


@pytest.fixture
def project(docker_client, busybox_image, project_name, stack_dir):
    """A fixture-stack project on the real engine; every resource it leaves is removed afterwards."""
    proj = dockerenv.TestProject(docker_client, project_name, stack_dir)
    yield proj
    proj.destroy()


@pytest.fixture
def build_project(docker_client, busybox_image, project_name, tmp_path):
    """The fixture stack with a built service (``app``) and a data volume."""
    target = tmp_path / "buildstack"
    shutil.copytree(FIXTURES / "buildstack", target)
    shutil.copy(target / ".env.example", target / ".env")
    proj = dockerenv.TestProject(docker_client, project_name, target)
    yield proj
    proj.destroy()
