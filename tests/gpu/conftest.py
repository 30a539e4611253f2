from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.gpu.apiserver import FakeApi

SNAPSHOTS = Path(__file__).parent / "snapshots"
CLOSED_PORT_URL = "http://127.0.0.1:9"  # discard port: nothing listens, connection refused at once


@pytest.fixture
def snapshots() -> Path:
    return SNAPSHOTS


@pytest.fixture
def fake_api():
    with FakeApi() as api:
        yield api


@pytest.fixture
def cli_env(tmp_path) -> dict[str, str]:
    """Environment for running avops outside any stack, with no API answering."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVOPS_")}
    env.update(
        AVOPS_API_URL=CLOSED_PORT_URL,
        AVOPS_COMPOSE_FILE=str(tmp_path / "none.yml"),
        AVOPS_ENV_FILE=str(tmp_path / "none.env"),
        COLUMNS="120",
    )
    return env
