"""Container test: the real docker/Dockerfile and docker/compose.yml, brought up by `avops rebuild`.

No registry is reachable here, so:
* the app image is built FROM the locally made ``avops-test/python:bookworm`` with
  ``IMAGE_EXTRAS=service`` (a smoke image: API, Celery, Redis client, soundfile; no torch, no
  models), on the host network with the host CA bundle copied in for pip;
* Redis runs from a throw-away image made FROM the same base with Debian's redis-server.

Covered: the Dockerfile builds (venv, project install, non-root user, labels, volumes); compose
loads through avops's stack model and `avops rebuild --gpus off` starts all three services, which
reach healthy through their own healthchecks (redis-cli ping, GET /health, celery ping of the
worker's own node); /health answers on 127.0.0.1; a clone job round-trips API -> Redis -> worker
-> /data; a synthesis job without the ML stack fails with its error and the worker stays healthy.
Not covered (manual check, needs a GPU host with registry access): the full CUDA image,
``docker build -f docker/Dockerfile -t audio-voice:latest . && avops rebuild``.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from tests.service.helpers import wait_job, wav_bytes
from tests.service.procs import REPO_ROOT, free_port

pytestmark = [pytest.mark.docker, pytest.mark.slow]

PYTHON_BASE = "avops-test/python:bookworm"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
CONTEXT_ITEMS = (
    "pyproject.toml",
    "README.md",
    ".dockerignore",
    "audiovoice_ops",
    "engines",
    "service",
    "docker",
    ".env.example",
)
# /data owned by uid 999 like the official image's: compose runs redis as REDIS_USER (999:1000).
REDIS_DOCKERFILE = f"""FROM {PYTHON_BASE}
COPY root/ /
RUN mkdir -p /data && chown 999:1000 /data
ENV LD_LIBRARY_PATH=/opt/redis/lib
"""


@pytest.fixture(scope="module")
def python_base(docker_client):
    """avops-test/python:bookworm plus the host's libstdc++ (numpy's wheels need it; the
    essential-variant base lacks it and has no apt). Removed after the module."""
    from docker.errors import ImageNotFound

    from tests.support.dockerenv import BASE_IMAGES_SCRIPT

    try:
        docker_client.images.get(PYTHON_BASE)
    except ImageNotFound:  # same script CI uses (mmdebstrap, a few minutes)
        subprocess.run(["bash", str(BASE_IMAGES_SCRIPT)], check=True, timeout=900)
    tag = f"avops-test/python-cxx:{uuid.uuid4().hex[:8]}"
    files = {f"lib/{n}": _host_lib(n) for n in ("libstdc++.so.6", "libgcc_s.so.1")}
    dockerfile = f"FROM {PYTHON_BASE}\nCOPY lib/ /usr/lib/x86_64-linux-gnu/\n"
    docker_client.images.build(
        fileobj=_context(dockerfile, files),
        custom_context=True,
        tag=tag,
        rm=True,
        forcerm=True,
        labels={"com.avops.test": "service"},
    )
    yield tag
    docker_client.images.remove(tag, force=True)


def _context(dockerfile: str, files: dict[str, Path]) -> io.BytesIO:
    """A tar build context: the Dockerfile plus host files at the given context paths."""
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:

        def add_bytes(name: str, data: bytes, mode: int = 0o644) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))

        add_bytes("Dockerfile", dockerfile.encode())
        for name, src in files.items():
            add_bytes(name, src.read_bytes(), 0o755 if os.access(src, os.X_OK) else 0o644)
    buf.seek(0)
    return buf


def _redis_context() -> io.BytesIO:
    """The host's Debian redis-server and redis-cli with their libraries (the base has no apt)."""
    files: dict[str, Path] = {}
    for binary in ("redis-server", "redis-cli"):
        path = Path(shutil.which(binary)).resolve()
        files[f"root/usr/bin/{binary}"] = path
        files.update(
            {f"root/opt/redis/lib/{lib.name}": lib.resolve() for lib in _shared_libs(path)}
        )
    return _context(REDIS_DOCKERFILE, files)


def _shared_libs(binary: Path) -> list[Path]:
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    libs = [
        Path(line.split("=>")[1].split("(")[0].strip())
        for line in out.splitlines()
        if "=>" in line and "/" in line.split("=>")[1]
    ]
    # libc/libm/ld.so come from the base (same Debian release); the rest by soname.
    return [lib for lib in libs if not lib.name.startswith(("libc.so", "libm.so", "ld-linux"))]


def _host_lib(name: str) -> Path:
    for line in subprocess.run(
        ["ldconfig", "-p"], capture_output=True, text=True
    ).stdout.splitlines():
        if line.strip().startswith(name + " ") and "x86-64" in line:
            return Path(line.split("=>")[1].strip()).resolve()
    raise FileNotFoundError(name)


@pytest.fixture(scope="module")
def redis_image(docker_client, python_base):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server not installed on the host (its binary makes the test image)")
    tag = f"avops-test/redis:{uuid.uuid4().hex[:8]}"
    docker_client.images.build(
        fileobj=_redis_context(),
        custom_context=True,
        tag=tag,
        rm=True,
        forcerm=True,
        labels={"com.avops.test": "service"},
    )
    yield tag
    docker_client.images.remove(tag, force=True)


def _project_dir(tmp_path: Path, overrides: dict[str, str]) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    for item in CONTEXT_ITEMS:
        src = REPO_ROOT / item
        if item == "README.md" and not src.exists():  # pyproject's readme; the build needs one
            (ctx / item).write_text("# avops\n")
        elif src.is_dir():
            shutil.copytree(src, ctx / item, ignore=shutil.ignore_patterns("__pycache__", "*.crt"))
        else:
            shutil.copy(src, ctx / item)
    if HOST_CA.is_file():  # TLS-inspecting proxy: pip inside the build must trust the host's CAs
        shutil.copy(HOST_CA, ctx / "docker" / "certs" / "host-ca.crt")
    env = (ctx / ".env.example").read_text()
    env += "".join(f"\n{k}={v}" for k, v in overrides.items()) + "\n"
    (ctx / ".env").write_text(env)
    return ctx


@pytest.fixture
def stack_project(docker_client, python_base, redis_image, tmp_path):
    from tests.support.dockerenv import destroy_project

    name = f"avt{uuid.uuid4().hex[:8]}"
    port = free_port()
    image = f"avops-test/audio-voice:{name}"
    api_key, admin_key = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    ctx = _project_dir(
        tmp_path,
        {
            "API_KEYS": api_key,
            "ADMIN_API_KEYS": admin_key,
            "AVOPS_IMAGE": image,
            "BASE_IMAGE": python_base,
            "IMAGE_EXTRAS": "service",
            "BUILD_NETWORK": "host",
            "REDIS_IMAGE": redis_image,
            "CONTAINER_PREFIX": name,
            "API_HOST_PORT": str(port),
            "API_HEALTH_INTERVAL": "2s",
            "WORKER_HEALTH_INTERVAL": "3s",
            "VRAM_HEARTBEAT_S": "2",
        },
    )
    env = {
        **os.environ,
        "AVOPS_COMPOSE_FILE": str(ctx / "docker" / "compose.yml"),
        "AVOPS_ENV_FILE": str(ctx / ".env"),
        "AVOPS_PROJECT_NAME": name,
    }
    yield dict(
        name=name, port=port, image=image, env=env, ctx=ctx, api_key=api_key, admin_key=admin_key
    )
    destroy_project(docker_client, name)
    for img in docker_client.images.list(filters={"label": f"io.avops.built-for-project={name}"}):
        docker_client.images.remove(img.id, force=True)
    try:
        docker_client.images.remove(image, force=True)
    except Exception:  # noqa: BLE001  (already gone with the label sweep)
        pass


def _health_from_inside(client, container: str) -> str:
    """Diagnostics for a failed bring-up: the API's own /health body."""
    try:
        exec_id = client.api.exec_create(
            container,
            [
                "python",
                "-c",
                ("import httpx; print(httpx.get('http://127.0.0.1:8005/health').text)"),
            ],
        )
        return "\n/health inside the api container: " + client.api.exec_start(exec_id).decode()
    except Exception as exc:  # noqa: BLE001  (a diagnostic for a failure message: never raise)
        return f"\n(no /health from inside: {exc})"


def test_compose_loads_through_avops_stack_model():
    from audiovoice_ops.core.stack import load_stack

    stack = load_stack(REPO_ROOT / "docker" / "compose.yml", REPO_ROOT / ".env.example", {})
    assert stack.startup_order.index("redis") < stack.startup_order.index("api")
    names = {s: stack.service(s).container_name for s in ("api", "celery", "redis")}
    # the worker has no fixed name: avops makes <project>-celery-N, one per GPU (WORKER_GPUS)
    assert names == {"api": "audio-voice-api", "celery": None, "redis": "audio-voice-redis"}
    celery = stack.service("celery")
    assert celery.gpu_replicas == "all"
    assert celery.gpu_devices, "the worker must reserve the GPU"
    # stateless: the worker mounts the models volume only, never the API's data volume
    assert [v.target for v in celery.volumes] == ["/app/models"], celery.volumes
    assert "--concurrency=1" in celery.command and "--pool=prefork" in celery.command
    for svc in ("api", "celery", "redis"):
        assert stack.service(svc).healthcheck is not None
    assert stack.service("api").build.args["BASE_IMAGE"].startswith("nvidia/cuda:12.4.1-cudnn9")
    assert stack.service("api").depends_on["redis"].condition == "service_healthy"


def test_avops_rebuild_brings_the_stack_up_healthy(docker_client, stack_project):
    p = stack_project
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "audiovoice_ops",
            "rebuild",
            "--gpus",
            "off",
            "--cache",
            "--timeout",
            "180",
        ],
        env=p["env"],
        cwd=p["ctx"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, (
        result.stdout[-3000:]
        + result.stderr[-3000:]
        + _health_from_inside(docker_client, f"{p['name']}-api")
    )
    for svc in ("api", "celery-1", "redis"):
        state = docker_client.api.inspect_container(f"{p['name']}-{svc}")["State"]
        assert state["Health"]["Status"] == "healthy", (svc, state)
    api = docker_client.api.inspect_container(f"{p['name']}-api")
    assert api["Config"]["User"] == "10001:10001"  # non-root
    # Safe defaults: loopback-only publish (API_BIND_ADDRESS default), hardening on all three.
    assert api["HostConfig"]["PortBindings"]["8005/tcp"][0]["HostIp"] == "127.0.0.1"
    for svc in ("api", "celery-1", "redis"):
        info = docker_client.api.inspect_container(f"{p['name']}-{svc}")
        host = info["HostConfig"]
        assert info["Config"]["User"] not in ("", "0", "root", "0:0"), (svc, info["Config"]["User"])
        assert host["ReadonlyRootfs"] is True, svc
        assert host["CapDrop"] == ["ALL"] and not host["CapAdd"], svc
        assert "no-new-privileges:true" in host["SecurityOpt"], svc
        assert "/tmp" in host["Tmpfs"], svc
    with httpx.Client(base_url=f"http://127.0.0.1:{p['port']}", timeout=30) as anon:
        assert anon.get("/admin/vram").status_code == 401
        assert anon.get("/voices").status_code == 401
        assert anon.get("/health").json() == {"status": "ok"}
    with httpx.Client(
        base_url=f"http://127.0.0.1:{p['port']}",
        timeout=30,
        headers={"Authorization": f"Bearer {p['admin_key']}"},
    ) as c:
        health = c.get("/health")
        assert health.status_code == 200, health.text
        assert health.json()["checks"]["worker"]["ok"], health.json()
        # 24 kHz: the worker stores it without resampling, so this works without torch.
        r = c.post(
            "/voices/clone",
            data={"language": "pt-BR", "voice_name": "smoke", "ref_text": "a reference"},
            files={"audio": ("a.wav", wav_bytes(2.0, 24000), "audio/wav")},
        )
        assert r.status_code == 202, r.text
        assert wait_job(c, r.json()["job_id"], timeout=60)["status"] == "completed"
        r = c.post(
            "/jobs", json={"text": "ola", "language": "pt-BR", "voice_id": r.json()["voice_id"]}
        )
        info = wait_job(c, r.json()["job_id"], timeout=60)
        assert info["status"] == "failed" and "torch" in info["error"], info
        vram = c.get("/admin/vram").json()
        assert vram["vram"]["available"] is False and vram["age_seconds"] < 30
    ping = docker_client.api.exec_create(
        f"{p['name']}-celery-1", ["python", "-m", "service.healthcheck", "worker"]
    )
    out = docker_client.api.exec_start(ping).decode()
    assert "pong" in out, out
