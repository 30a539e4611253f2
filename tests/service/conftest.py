"""Fixtures for the service tests: a real redis-server, tiny models, worker + API processes.

redis-server is required: without it the tests skip with the reason, except when
AVOPS_TEST_REQUIRE_REDIS=1 (CI), where that is a failure so CI can never pass by skipping.
"""

from __future__ import annotations

import itertools
import os
import shutil

import pytest

from tests.service.procs import RedisServer, ServiceStack

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

_db_numbers = itertools.count(1)  # each stack gets its own Redis database (redis: --databases)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    if shutil.which("redis-server") is None:
        if os.environ.get("AVOPS_TEST_REQUIRE_REDIS") == "1":
            pytest.fail(
                "AVOPS_TEST_REQUIRE_REDIS=1 but redis-server is not installed "
                "(apt-get install redis-server)"
            )
        pytest.skip(
            "redis-server not installed (apt-get install redis-server); "
            "set AVOPS_TEST_REQUIRE_REDIS=1 to make this a failure"
        )
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    from engines.testing import build_tiny_models

    return build_tiny_models(tmp_path_factory.mktemp("tiny_models"))


@pytest.fixture(scope="session")
def make_stack(redis_server, tiny_models, tmp_path_factory):
    """Factory: make_stack(LOW_VRAM="true", ...) starts a worker and an API, waits until ready."""
    stacks: list[ServiceStack] = []

    def _make(start_worker: bool = True, **env: str) -> ServiceStack:
        base = tmp_path_factory.mktemp("stack")
        (base / "logs").mkdir()
        stack = ServiceStack(
            redis_url=redis_server.url(next(_db_numbers)),
            data_dir=base / "data",
            log_dir=base / "logs",
            env_extra={**tiny_models, **env},
        )
        stacks.append(stack)
        stack.start_api()
        if start_worker:
            stack.start_worker()
            stack.wait_ready()
        return stack

    yield _make
    for stack in stacks:
        stack.stop()
