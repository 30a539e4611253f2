"""A worker on "another host": its own network namespace, reaching Redis only over TLS as an ACL user.

The host side runs a redis-server with TLS (certificates made by docker/redis-tls-certs.sh) whose
default user is off: the API connects as "api" over TLS on 127.0.0.1, the worker as "worker" over
TLS on the veth address, with the ACL rules of docker/compose.remote-redis.yml.
The worker is started with ``ip netns exec`` and nothing but REDIS_URL, its models and its own cache
(its DATA_DIR does not exist): a clone and a synthesis complete and the audio comes from the API.

Then the mistakes an operator makes: a wrong password, rediss:// to the plain port, redis:// to the
TLS port. Each gives one clear line in the worker's log, the worker keeps running and retrying (no
crash loop), and its healthcheck fails saying why. The password never appears in a log.

Needs root and iproute2 (network namespaces) and openssl: skipped otherwise, with the reason, except
when AVOPS_TEST_REQUIRE_NETNS=1 (CI), where that is a failure.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
import soundfile as sf
import yaml

from service.jobs import JobStore
from tests.service.helpers import ready_voice, wait_job
from tests.service.procs import (
    REPO_ROOT,
    ServiceStack,
    free_port,
    stop_pid,
    wait_for,
    worker_command,
)

CERT_SCRIPT = REPO_ROOT / "docker" / "redis-tls-certs.sh"
REMOTE_COMPOSE = REPO_ROOT / "docker" / "compose.remote-redis.yml"
ALIVE_AFTER_S = 10  # a refused worker must still be running this long after it started
ERROR_WITHIN_S = 60  # the clear line must be in its log by then


def _require_netns() -> None:
    missing = [
        why
        for why, absent in (
            ("not running as root (network namespaces need it)", os.geteuid() != 0),
            ("`ip` not found (apt-get install iproute2)", shutil.which("ip") is None),
            ("openssl not found (apt-get install openssl)", shutil.which("openssl") is None),
            (
                "redis-server not found (apt-get install redis-server)",
                not shutil.which("redis-server"),
            ),
        )
        if absent
    ]
    if missing:
        _skip_or_fail("; ".join(missing))


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("AVOPS_TEST_REQUIRE_NETNS") == "1":
        pytest.fail(f"AVOPS_TEST_REQUIRE_NETNS=1 but {reason}")
    pytest.skip(f"{reason}; set AVOPS_TEST_REQUIRE_NETNS=1 to make this a failure")


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")


class NetNs:
    """A namespace joined to the host by a veth pair: host 10.a.b.1/30, namespace 10.a.b.2/30."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.name = f"avt-{tag}"
        self.host_if, self.ns_if = f"avh{tag}", f"avn{tag}"  # interface names: 15 chars at most
        a, b = secrets.randbelow(200) + 20, secrets.randbelow(63) * 4
        self.host_ip, self.ns_ip = f"10.{a}.{b}.1", f"10.{a}.{b}.2"

    def create(self) -> "NetNs":
        _ip("netns", "add", self.name)
        _ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        _ip("link", "set", self.ns_if, "netns", self.name)
        _ip("addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
        _ip("link", "set", self.host_if, "up")
        for args in (
            ("addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if),
            ("link", "set", self.ns_if, "up"),
            ("link", "set", "lo", "up"),
        ):
            _ip("netns", "exec", self.name, "ip", *args)
        return self

    def run(self, command: list[str]) -> list[str]:
        """``command`` inside the namespace (ip netns exec execs it: the same pid)."""
        return ["ip", "netns", "exec", self.name, *command]

    def delete(self) -> None:
        # Deleting the namespace destroys its veth end, and with it the host's peer.
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True)


@pytest.fixture(scope="module")
def netns():
    _require_netns()
    ns = NetNs()
    try:
        ns.create()
    except RuntimeError as exc:
        ns.delete()
        _skip_or_fail(f"cannot make a network namespace: {exc}")
    yield ns
    ns.delete()


def _acl_rule(user: str) -> list[str]:
    """The user's ACL rule from the remote-mode compose file (the one place it is written)."""
    rules = yaml.safe_load(REMOTE_COMPOSE.read_text())["x-avops-redis-acl"]
    return rules[user].split()


class TlsRedis:
    """redis-server as docker/compose.remote-redis.yml runs it: the default user off, "api" and
    "worker" with passwords, a TLS port; bound to 127.0.0.1 and the veth address."""

    def __init__(self, workdir: Path, host_ip: str) -> None:
        self.workdir, self.host_ip = workdir, host_ip
        self.certs = workdir / "certs"
        self.plain_port, self.tls_port = free_port(), free_port()
        self.passwords = {user: secrets.token_hex(16) for user in ("api", "worker")}
        self.proc: subprocess.Popen | None = None

    def start(self) -> "TlsRedis":
        subprocess.run(["bash", str(CERT_SCRIPT), str(self.certs), self.host_ip], check=True)
        users = ["--user", "default", "off"]
        for user, password in self.passwords.items():
            users += ["--user", user, "on", f">{password}", *_acl_rule(user)]
        self.proc = subprocess.Popen(
            [
                shutil.which("redis-server"),
                "--bind",
                "127.0.0.1",
                self.host_ip,
                "--port",
                str(self.plain_port),
                "--tls-port",
                str(self.tls_port),
                "--tls-cert-file",
                str(self.certs / "server.pem"),
                "--tls-key-file",
                str(self.certs / "server.key"),
                "--tls-ca-cert-file",
                str(self.certs / "ca.pem"),
                "--tls-auth-clients",
                "no",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                *users,
            ],  # fmt: skip
            stdout=open(self.workdir / "redis.log", "ab"),
            stderr=subprocess.STDOUT,
        )
        admin = redis.Redis(port=self.plain_port, username="api", password=self.passwords["api"])
        wait_for(admin.ping, 15, f"redis-server on 127.0.0.1:{self.plain_port}")
        return self

    def api_url(self) -> str:
        """The API over TLS too, on 127.0.0.1 (in the server's certificate)."""
        return self.url("api", self.passwords["api"], "127.0.0.1", self.tls_port)

    def worker_url(self, password: str | None = None, tls: bool = True, port: int = 0) -> str:
        password = password or self.passwords["worker"]
        port = port or (self.tls_port if tls else self.plain_port)
        return self.url("worker", password, self.host_ip, port, tls)

    def url(self, user: str, password: str, host: str, port: int, tls: bool = True) -> str:
        if not tls:
            return f"redis://{user}:{password}@{host}:{port}/0"
        query = f"ssl_cert_reqs=required&ssl_ca_certs={self.certs}/ca.pem"
        return f"rediss://{user}:{password}@{host}:{port}/0?{query}"

    def stop(self) -> None:
        if self.proc is not None:
            stop_pid(self.proc)


@pytest.fixture(scope="module")
def tls_redis(netns, tmp_path_factory):
    server = TlsRedis(tmp_path_factory.mktemp("tls-redis"), netns.host_ip).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api(tls_redis, tiny_models, tmp_path_factory):
    """The API on the host, as ServiceStack.start_api runs it, as "api" over TLS."""
    base = tmp_path_factory.mktemp("remote-api")
    (base / "logs").mkdir()
    stack = ServiceStack(
        redis_url=tls_redis.api_url(),
        data_dir=base / "data",
        log_dir=base / "logs",
        env_extra=dict(tiny_models),
    )
    stack.start_api()
    yield stack
    stack.stop()


class RemoteWorker:
    """A worker inside the namespace: REDIS_URL, its models, its own cache, nothing else."""

    def __init__(self, netns: NetNs, redis_url: str, models: dict, base: Path, name: str):
        self.netns = netns
        self.node = f"celery@avt-remote-{name}-{uuid.uuid4().hex[:6]}"
        self.log_path = base / f"worker-{name}.log"
        self.no_data = base / f"{name}-no-data-volume"
        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": str(base),
            "LANG": "C.UTF-8",
            "REDIS_URL": redis_url,
            "DATA_DIR": str(self.no_data),
            "WORKER_CACHE_DIR": str(base / f"{name}-cache"),
            "VRAM_HEARTBEAT_S": "1",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
            "OMP_NUM_THREADS": "1",
            **models,
        }
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            netns.run(worker_command(self.node)),
            cwd=REPO_ROOT,
            env=self.env,
            stdout=open(self.log_path, "ab"),
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def healthcheck(self) -> subprocess.CompletedProcess:
        """The container's healthcheck, run where the worker runs (inside the namespace)."""
        command = [sys.executable, "-m", "service.healthcheck", "worker", "--node", self.node]
        return subprocess.run(
            self.netns.run(command),
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def stop(self) -> None:
        stop_pid(self.proc)


@pytest.fixture
def start_worker(netns, tiny_models, tmp_path):
    workers: list[RemoteWorker] = []

    def _start(redis_url: str, name: str) -> RemoteWorker:
        worker = RemoteWorker(netns, redis_url, tiny_models, tmp_path, name)
        workers.append(worker)
        return worker

    yield _start
    for worker in workers:
        worker.stop()


@pytest.mark.slow
def test_worker_in_another_namespace_runs_jobs_over_tls(api, tls_redis, netns, start_worker):
    worker = start_worker(tls_redis.worker_url(), "ok")
    api.wait_ready(timeout=180)
    with api.client() as c:
        voice_id = ready_voice(c, name="remote")
        r = c.post(
            "/jobs",
            json={"text": "Ola de outro host.", "language": "pt-BR", "voice_id": voice_id},
        )
        assert r.status_code == 202, r.text
        info = wait_job(c, r.json()["job_id"])
        assert info["status"] == "completed", info
        audio = c.get(f"/jobs/{info['job_id']}/audio")
        assert audio.status_code == 200, audio.text
        samples, rate = sf.read(io.BytesIO(audio.content))
        assert rate == 24000 and len(samples) > 0
    store = JobStore(redis.Redis.from_url(tls_redis.api_url(), decode_responses=True), 3600)
    record = store.get(info["job_id"])
    assert record["worker"].split(" ")[0] == worker.node, record
    assert not worker.no_data.exists(), "the remote worker wrote to a data volume"
    assert worker.healthcheck().returncode == 0
    log = worker.log()
    assert f"Connected to rediss://worker:**@{netns.host_ip}:{tls_redis.tls_port}/0" in log, log
    assert tls_redis.passwords["worker"] not in log
    assert tls_redis.passwords["api"] not in (api.log_dir / "api.log").read_text()


def _assert_refused(worker: RemoteWorker, expected: str, password: str) -> None:
    """The clear line in the log, the worker still running after ALIVE_AFTER_S, an unhealthy
    healthcheck saying the same; the password nowhere."""
    line = wait_for(
        lambda: next((x for x in worker.log().splitlines() if "error: REDIS_URL" in x), None),
        ERROR_WITHIN_S,
        f"the REDIS_URL error in {worker.log_path}",
        interval=0.5,
    )
    assert expected in line, line
    time.sleep(max(0.0, worker.started + ALIVE_AFTER_S - time.monotonic()))
    assert worker.proc.poll() is None, (
        f"the worker exited ({worker.proc.returncode}):\n{worker.log()}"
    )
    check = worker.healthcheck()
    assert check.returncode == 1, check.stdout + check.stderr
    assert expected in check.stdout and "Traceback" not in check.stdout + check.stderr, check
    assert check.stdout.count("\n") == 1, check.stdout  # one line
    for text in (worker.log(), check.stdout, check.stderr):
        assert password not in text
    assert worker.log().count("error: REDIS_URL") == 1, "the cause is logged once, not per retry"


@pytest.mark.slow
def test_wrong_password_is_one_clear_line_and_an_unhealthy_worker(tls_redis, start_worker):
    password = f"wrong-{secrets.token_hex(8)}"
    worker = start_worker(tls_redis.worker_url(password=password), "wrongpass")
    _assert_refused(worker, "Redis refused the credentials for user 'worker' (WRONGPASS)", password)


@pytest.mark.slow
def test_tls_url_to_the_plain_port_is_a_tls_error(tls_redis, start_worker):
    worker = start_worker(tls_redis.worker_url(port=tls_redis.plain_port), "tls-to-plain")
    _assert_refused(worker, "TLS handshake with", tls_redis.passwords["worker"])


@pytest.mark.slow
def test_plain_url_to_the_tls_port_says_use_rediss(tls_redis, start_worker):
    worker = start_worker(tls_redis.worker_url(tls=False, port=tls_redis.tls_port), "plain-to-tls")
    _assert_refused(worker, "a TLS port? use rediss://", tls_redis.passwords["worker"])


@pytest.mark.slow
def test_server_not_verified_by_the_system_cas_names_ssl_ca_certs(tls_redis):
    """rediss:// without ssl_ca_certs verifies against the system CAs, which do not know the
    stack's own CA: the healthcheck says so and what to set (never a silent unverified link)."""
    password = tls_redis.passwords["worker"]
    url = tls_redis.url("worker", password, tls_redis.host_ip, tls_redis.tls_port).split("?")[0]
    check = subprocess.run(
        [sys.executable, "-m", "service.healthcheck", "worker", "--node", "celery@nobody"],
        cwd=REPO_ROOT,
        env={**os.environ, "REDIS_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 1, check
    assert "CERTIFICATE_VERIFY_FAILED" in check.stdout and "ssl_ca_certs=" in check.stdout, check
    assert tls_redis.passwords["worker"] not in check.stdout + check.stderr


# --------------------------------------------------------------------------- REDIS_URL itself
CA = str(CERT_SCRIPT)  # any readable file stands for a CA bundle in parsing


def test_rediss_url_gives_each_client_its_tls_options():
    import ssl

    from service.redisurl import parse

    target = parse(
        f"rediss://worker:pw%40x@10.0.0.1:6380/2?ssl_cert_reqs=required&ssl_ca_certs={CA}"
    )
    assert target.tls and target.url == "rediss://worker:pw%40x@10.0.0.1:6380/2"
    assert target.ssl_options == {"ssl_cert_reqs": ssl.CERT_REQUIRED, "ssl_ca_certs": CA}
    assert target.celery_ssl() == target.ssl_options and target.broker_timeouts()
    assert target.masked == "rediss://worker:***@10.0.0.1:6380/2"
    # No ssl_cert_reqs: the server is verified all the same (never kombu's CERT_NONE default).
    assert parse("rediss://h:6380/0").ssl_options == {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    plain = parse("redis://redis:6379/0")
    assert not plain.tls and plain.celery_ssl() is None and plain.broker_timeouts() == {}


@pytest.mark.parametrize(
    "url, says",
    [
        ("http://u:topsecret@h:1/0", "use redis:// or rediss://"),
        ("redis://u:topsecret@h:1/zero", "database 'zero' is not a number"),
        ("redis://u:topsecret@h:1/0?ssl_cert_reqs=required", "needs a rediss:// URL"),
        ("rediss://u:topsecret@h:1/0?ssl_cert_reqs=maybe", "ssl_cert_reqs='maybe'"),
        ("rediss://u:topsecret@h:1/0?ssl_ca_certs=/no/such/ca.pem", "cannot read /no/such/ca.pem"),
    ],
)
def test_bad_redis_url_is_one_line_without_the_password(url, says):
    from service.redisurl import parse
    from service.settings import ServiceSettingsError

    with pytest.raises(ServiceSettingsError) as err:
        parse(url)
    assert str(err.value).startswith("REDIS_URL (") and says in str(err.value), err.value
    assert "topsecret" not in str(err.value) and "\n" not in str(err.value)


def test_worker_with_an_unreadable_ca_refuses_to_start_in_one_line(tmp_path):
    url = "rediss://worker:topsecret@127.0.0.1:9/0?ssl_ca_certs=/no/such/ca.pem"
    env = {**os.environ, "REDIS_URL": url, "DATA_DIR": str(tmp_path / "none")}
    result = subprocess.run(
        worker_command("celery@avt-bad-ca"),
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    expected = "error: REDIS_URL (rediss://worker:***@127.0.0.1:9/0): ssl_ca_certs: cannot read"
    assert result.stderr.startswith(expected), result.stderr
    assert "Traceback" not in result.stderr and "topsecret" not in result.stdout + result.stderr
