"""Real processes for the service tests: redis-server, the Celery worker, the uvicorn API.

Every process is started here and stopped by its own pid (the worker's pool children
are collected from /proc before the parent goes), never by name.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]


def worker_command(node: str) -> list[str]:
    """The worker as compose runs it (prefork, one child), named ``node``."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "service.worker",
        "worker",
        "--pool=prefork",
        "--concurrency=1",
        "-n",
        node,
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def stop_pid(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """SIGTERM, wait, then SIGKILL: the process and the children it had."""
    kids = children(proc.pid)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    for kid in kids:
        try:
            os.kill(kid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as exc:  # noqa: BLE001  (not up yet)
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


class RedisServer:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: Optional[subprocess.Popen] = None

    def start(self) -> "RedisServer":
        self.proc = subprocess.Popen(
            [
                shutil.which("redis-server"),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                # one database per test stack for the whole session (16 ran out: a stack reusing
                # a database saw another stack's live worker heartbeat)
                "--databases",
                "1024",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        wait_for(client.ping, 15, f"redis-server on 127.0.0.1:{self.port}")
        return self

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        if self.proc is not None:
            stop_pid(self.proc)


@dataclass
class ServiceStack:
    """One worker + one API on their own Redis db and data dir."""

    redis_url: str
    data_dir: Path
    log_dir: Path
    env_extra: dict[str, str]
    api_port: int = field(default_factory=free_port)
    node: str = field(default_factory=lambda: f"celery@avt-{uuid.uuid4().hex[:8]}")
    # Authenticated like production: a client key and an admin key (the default client's).
    api_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    admin_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    worker: Optional[subprocess.Popen] = None
    api: Optional[subprocess.Popen] = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "REDIS_URL": self.redis_url,
            "DATA_DIR": str(self.data_dir),
            # each stack's worker has its own cache, as a worker on its own host would
            "WORKER_CACHE_DIR": str(self.data_dir.parent / "worker-cache"),
            "API_PORT": str(self.api_port),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
            "VRAM_HEARTBEAT_S": "1",
            "WORKER_STALE_S": "10",
            "API_KEYS": self.api_key,
            "ADMIN_API_KEYS": self.admin_key,
            # generous: the functional tests submit many jobs; test_security sets its own
            "RATE_LIMIT_PER_MINUTE": "6000",
            "RATE_LIMIT_BURST": "1000",
            **self.env_extra,
        }

    def start_worker(self) -> subprocess.Popen:
        log = open(self.log_dir / f"worker-{time.time():.0f}.log", "ab")
        self.worker = subprocess.Popen(
            worker_command(self.node),
            cwd=REPO_ROOT,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self.worker

    def start_api(self) -> subprocess.Popen:
        log = open(self.log_dir / "api.log", "ab")
        self.api = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "service.api:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.api_port),
                "--log-level",
                "warning",
            ],
            cwd=REPO_ROOT,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self.api

    def client(self, key: Optional[str] = "admin") -> httpx.Client:
        """An httpx client sending ``key`` as Bearer: "admin" (default), "client" (the
        non-admin key), None (no key) or any other string (sent as is)."""
        key = {"admin": self.admin_key, "client": self.api_key}.get(key, key)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.base_url, timeout=30, headers=headers)

    def wait_ready(self, timeout: float = 120) -> None:
        with self.client() as c:
            wait_for(
                lambda: c.get("/health").json()["checks"]["worker"]["ok"],
                timeout,
                f"API on {self.base_url} and a worker heartbeat",
                interval=0.3,
            )

    def worker_log(self) -> str:
        return "\n".join(
            p.read_text(errors="replace") for p in sorted(self.log_dir.glob("worker-*.log"))
        )

    def stop(self) -> None:
        for proc in (self.api, self.worker):
            if proc is not None:
                stop_pid(proc)


class IsolatedWorker:
    """A worker of ``stack``'s Redis as on another host: its own node name and cache directory,
    and a DATA_DIR that does not exist (it shares no volume with the API or other workers)."""

    def __init__(self, stack, name: str, base) -> None:
        self.node = f"celery@avt-{name}-{uuid.uuid4().hex[:6]}"
        self.cache = base / f"{name}-cache"
        self.no_data = base / f"{name}-no-data-volume"
        log_path = stack.log_dir / f"worker-{name}.log"
        env = {
            **stack.env(),
            "DATA_DIR": str(self.no_data),
            "WORKER_CACHE_DIR": str(self.cache),
            "OMP_NUM_THREADS": "1",  # one core per worker: the two cores are the two "GPUs"
        }
        self.proc = subprocess.Popen(
            worker_command(self.node),
            cwd=REPO_ROOT,
            env=env,
            stdout=open(log_path, "ab"),
            stderr=subprocess.STDOUT,
        )
        self.log_path = log_path

    def kill_outright(self) -> None:
        """SIGKILL to the pool child and the parent at once: no warm shutdown, no requeue."""
        for pid in [*children(self.proc.pid), self.proc.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(10)
