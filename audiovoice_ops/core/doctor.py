"""``avops doctor``: the seed's "Checklist Final de Validação" as checks.

Each check answers pass / warn / fail / skipped, with the reason and a one-line fix. Sources are
read once (compose model, Docker inventory, NVML, ``GET /health`` and ``GET /admin/vram``) and a
source that is missing turns the checks that need it into ``skipped`` (or ``fail`` where the
checklist requires the source: an unreachable Docker Engine fails the container checks).
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audiovoice_ops.core.errors import AvopsError

if TYPE_CHECKING:
    import docker

    from audiovoice_ops.core.apiclient import ApiClient, ApiResult
    from audiovoice_ops.core.inventory import Inventory
    from audiovoice_ops.core.stack import Stack
    from audiovoice_ops.gpu.types import GpuSnapshot

PASS, WARN, FAIL, SKIPPED = "pass", "warn", "fail", "skipped"
DEFAULT_MAX_AGE_S = 30.0
BASELINE_SLACK_MB = 256.0  # allocated VRAM tolerated in LOW_VRAM with no model on the GPU
API_NAMES = ("api", "audio-voice-api")
UNAUTH_PROBE = "/admin/vram"
KEY_VARIABLES = ("API_KEYS", "ADMIN_API_KEYS")


@dataclass
class Check:
    id: str
    group: str
    title: str
    status: str
    reason: str
    fix: str | None = None


@dataclass
class DoctorReport:
    project: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(c.status == FAIL for c in self.checks)

    def counts(self) -> dict[str, int]:
        return {s: sum(c.status == s for c in self.checks) for s in (PASS, WARN, FAIL, SKIPPED)}

    def to_dict(self) -> dict[str, Any]:
        return {"project": self.project, "ok": self.ok, "summary": self.counts(),
                "checks": [asdict(c) for c in self.checks]}


@dataclass
class Sources:
    stack: Stack
    worker: str | None
    client: docker.DockerClient | None = None
    docker_error: str | None = None
    inventory: Inventory | None = None
    gpu: GpuSnapshot | None = None
    api_expected: bool = False
    health: ApiResult | None = None
    vram: ApiResult | None = None
    unauthenticated: ApiResult | None = None  # GET /admin/vram sent without a key

    @property
    def stats(self) -> dict | None:
        return self.vram.data["vram"] if self.vram is not None and self.vram.ok else None


# ---------------------------------------------------------------------------- gathering
def gather(stack: Stack, settings, worker: str | None, api: ApiClient | None, gpu: GpuSnapshot | None) -> Sources:
    from audiovoice_ops.core.dockerclient import connect
    from audiovoice_ops.core.inventory import take_inventory
    from audiovoice_ops.gpu.check import worker_service

    src = Sources(stack=stack, worker=worker_service(stack, worker), gpu=gpu)
    try:
        src.client = connect(settings.docker_host, timeout=30)
        src.inventory = take_inventory(src.client, stack)
    except AvopsError as exc:
        src.client, src.docker_error = None, exc.message
    src.api_expected = any(name in stack.services for name in API_NAMES) or "api_url" in settings.model_fields_set
    if api is not None and src.api_expected:
        src.health, src.vram = api.health(), api.vram()
        src.unauthenticated = api.get(UNAUTH_PROBE, authenticated=False)
    return src


def run_doctor(src: Sources, max_age_s: float = DEFAULT_MAX_AGE_S) -> DoctorReport:
    report = DoctorReport(project=src.stack.project)
    for check in (check_containers, check_health, check_orphans, check_dangling_images, check_env_drift,
                  check_low_vram, check_f5tts_cuda, check_base_image, check_healthchecks,
                  check_gpu_reservation, check_api_health):
        report.checks.append(check(src))
    report.checks.append(check_vram_endpoint(src, max_age_s))
    report.checks.append(check_vram_baseline(src))
    for check in (check_api_auth, check_env_file_mode, check_public_bind, check_root_containers):
        report.checks.append(check(src))
    return report


# ---------------------------------------------------------------------------- containers
def _docker_down(id: str, group: str, title: str, src: Sources) -> Check | None:
    if src.inventory is None:
        return Check(id, group, title, FAIL, f"Docker Engine unreachable: {src.docker_error}",
                     "start dockerd or point DOCKER_HOST at the engine")
    return None


def check_containers(src: Sources) -> Check:
    title = "exactly one container per service"
    if (down := _docker_down("containers.count", "containers", title, src)) is not None:
        return down
    missing = [s for s, views in src.inventory.services.items() if not views]
    dupes = {s: [v.name for v in views] for s, views in src.inventory.services.items() if len(views) > 1}
    if missing or dupes:
        parts = [f"no container for {', '.join(missing)}"] if missing else []
        parts += [f"{s} has {len(names)} ({', '.join(names)})" for s, names in dupes.items()]
        return Check("containers.count", "containers", title, FAIL, "; ".join(parts), "avops rebuild")
    return Check("containers.count", "containers", title, PASS,
                 f"{len(src.inventory.services)} services, one container each")


def check_health(src: Sources) -> Check:
    title = "all containers running and healthy"
    if (down := _docker_down("containers.health", "containers", title, src)) is not None:
        return down
    views = [v for group in src.inventory.services.values() for v in group]
    if not views:
        return Check("containers.health", "containers", title, SKIPPED, "no containers")
    bad = [f"{v.name} is {v.state}" for v in views if not v.running]
    bad += [f"{v.name} is {v.health}" for v in views if v.running and v.health in ("unhealthy", "starting")]
    if bad:
        return Check("containers.health", "containers", title, FAIL, "; ".join(bad),
                     "avops status (probe output), then avops restart SERVICE")
    unprobed = [v.name for v in views if v.health is None]
    if unprobed:
        return Check("containers.health", "containers", title, WARN,
                     f"running but without a healthcheck: {', '.join(unprobed)}",
                     "add a healthcheck to the service, then avops restart")
    return Check("containers.health", "containers", title, PASS, f"{len(views)} running, all healthy")


def check_orphans(src: Sources) -> Check:
    title = "no orphan or foreign containers"
    if (down := _docker_down("containers.orphans", "containers", title, src)) is not None:
        return down
    found = [f"orphan {v.name} (service {v.service})" for v in src.inventory.orphans]
    found += [f"{s.name} ({s.reason})" for s in src.inventory.squatters]
    if found:
        return Check("containers.orphans", "containers", title, FAIL, "; ".join(found),
                     "avops cleanup (or docker rm -f NAME)")
    return Check("containers.orphans", "containers", title, PASS, "none")


def check_dangling_images(src: Sources) -> Check:
    from audiovoice_ops.core import labels as L

    title = "no <none> images of the project"
    if src.client is None:
        return Check("images.dangling", "docker", title, SKIPPED, f"Docker Engine unreachable: {src.docker_error}")
    found: dict[str, dict] = {}
    for label in (f"{L.BUILT_FOR_PROJECT}={src.stack.project}", L.project_filter(src.stack.project)):
        for image in src.client.api.images(filters={"dangling": True, "label": label}):
            found[image["Id"]] = image
    if found:
        size = sum(i.get("Size") or 0 for i in found.values()) / 2**20
        return Check("images.dangling", "docker", title, WARN, f"{len(found)} dangling image(s), {size:,.0f} MiB",
                     f"docker image prune --filter label={L.BUILT_FOR_PROJECT}={src.stack.project}")
    return Check("images.dangling", "docker", title, PASS, "none")


def check_env_drift(src: Sources) -> Check:
    from audiovoice_ops.core.drift import build_env_report

    title = "containers run the environment of compose file + .env"
    if (down := _docker_down("env.drift", "low_vram", title, src)) is not None:
        return down
    report = build_env_report(src.client, src.stack)
    drifted = [s for s in report.services if s.drift]
    if drifted:
        what = "; ".join(f"{s.container}: {', '.join(d.key for d in s.drift)}" for s in drifted)
        return Check("env.drift", "low_vram", title, FAIL, f"drift in {what}",
                     f"avops restart {' '.join(sorted({s.service for s in drifted}))}")
    return Check("env.drift", "low_vram", title, PASS, "no drift")


# ---------------------------------------------------------------------------- LOW_VRAM / F5-TTS
def _as_bool(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    from audiovoice_ops.core.envfile import parse_bool

    try:
        return parse_bool("LOW_VRAM", str(value))
    except AvopsError:
        return None


def check_low_vram(src: Sources) -> Check:
    title = "LOW_VRAM agrees: .env, worker container, worker's mode"
    if src.worker is None:
        return Check("low_vram.agree", "low_vram", title, SKIPPED, "no worker service in the compose file")
    values: dict[str, Any] = {".env": src.stack.effective_environment(src.worker).get("LOW_VRAM")}
    views = src.inventory.services.get(src.worker, []) if src.inventory else []
    running = [v for v in views if v.running]
    if running:
        values["container"] = running[0].env.get("LOW_VRAM")
    if src.stats is not None:
        values["worker mode"] = src.stats.get("low_vram_mode")
    seen = ", ".join(f"{k}={'unset' if v is None else str(v).lower()}" for k, v in values.items())
    if len(values) == 1:
        return Check("low_vram.agree", "low_vram", title, SKIPPED,
                     f"{seen}; nothing to compare with (worker not running, API not answering)")
    bools = {k: _as_bool(v) for k, v in values.items()}
    if len(set(bools.values())) > 1:
        return Check("low_vram.agree", "low_vram", title, FAIL, f"disagree: {seen}",
                     f"avops restart {src.worker} (recreates it with the .env value)")
    return Check("low_vram.agree", "low_vram", title, PASS, seen)


def check_f5tts_cuda(src: Sources) -> Check:
    title = "F5-TTS runs on CUDA when a GPU is present"
    if src.gpu is None or not src.gpu.available or not src.gpu.gpus:
        reason = src.gpu.error if src.gpu is not None and src.gpu.error else "no GPU"
        return Check("f5tts.cuda", "f5tts", title, SKIPPED, f"no GPU on this host ({reason})")
    if src.stats is None:
        return Check("f5tts.cuda", "f5tts", title, SKIPPED, _api_reason(src))
    stats = src.stats
    f5 = [m for m in stats.get("resident_models") or [] if "f5" in str(m.get("key", "")).lower()]
    device = stats.get("device")
    if device != "cuda" or not stats.get("available", device == "cuda"):
        return Check("f5tts.cuda", "f5tts", title, FAIL, f"the worker's engine device is {device!r} though the host has a GPU",
                     "avops check-gpu (driver, NVIDIA Container Toolkit, GPU reservation)")
    if stats.get("cpu_fallbacks"):
        return Check("f5tts.cuda", "f5tts", title, WARN, f"device cuda, but {stats['cpu_fallbacks']} CPU fallback(s) so far",
                     "look for CUDA OOM in the worker logs (avops logs celery); consider LOW_VRAM=true")
    where = f"; f5tts resident on {f5[0].get('device')}" if f5 else ""
    return Check("f5tts.cuda", "f5tts", title, PASS, f"worker device cuda{where}")


# ---------------------------------------------------------------------------- Dockerfile / compose
def load_cuda_tags() -> dict:
    return json.loads(resources.files("audiovoice_ops").joinpath("data", "cuda_tags.json").read_text(encoding="utf-8"))


_ARG = re.compile(r"^ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$", re.IGNORECASE)
_FROM = re.compile(r"^FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?\s*$", re.IGNORECASE)
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def dockerfile_base_images(text: str, build_args: dict[str, str | None] | None = None) -> list[str]:
    """The ``FROM`` images of a Dockerfile, with global ``ARG`` defaults (and build args) resolved;
    ``FROM`` lines naming an earlier stage are left out."""
    args: dict[str, str] = {}
    stages: set[str] = set()
    images: list[str] = []
    seen_from = False
    joined = re.sub(r"\\\r?\n", " ", text)
    for raw in joined.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if (m := _ARG.match(line)) and not seen_from:
            name, default = m.group(1), (m.group(2) or "").strip().strip("\"'")
            given = (build_args or {}).get(name)
            args[name] = given if given is not None else default
        elif m := _FROM.match(line):
            seen_from = True
            image = _VAR.sub(lambda v: args.get(v.group(1) or v.group(3)) or (v.group(2) or ""), m.group(1))
            if image.lower() not in stages:
                images.append(image)
            if m.group(2):
                stages.add(m.group(2).lower())
    return images


def classify_image(image: str, data: dict) -> tuple[str, str, str | None]:
    """(status, reason, fix) for one base image against the tag data file."""
    repo, _, tag = image.partition(":")
    tag = tag.split("@", 1)[0] or "latest"
    if repo.removeprefix("docker.io/").removeprefix("library/") != data["repository"]:
        return SKIPPED, f"{image} is not an {data['repository']} image", None
    for rule in data["deprecated"]:
        if fnmatch.fnmatchcase(tag, rule["pattern"]):
            return rule["status"], f"{image}: {rule['reason']}", f"use {rule['replacement']} (ARG BASE_IMAGE default)"
    if any(fnmatch.fnmatchcase(tag, pattern) for pattern in data["current"]):
        return PASS, f"{image} is a current tag", None
    return WARN, f"{image} is not in avops's list of current tags", f"prefer {data['recommended']}"


def dockerfiles(stack: Stack) -> dict[str, tuple[Path, dict[str, str | None]]]:
    found = {}
    for name, service in stack.services.items():
        if service.build is not None:
            context = stack.resolve_path(service.build.context)
            found[name] = (context / (service.build.dockerfile or "Dockerfile"), service.build.args)
    return found


def check_base_image(src: Sources) -> Check:
    title = "Dockerfile base image is a current CUDA tag"
    files = dockerfiles(src.stack)
    if not files:
        return Check("docker.base_image", "docker", title, SKIPPED, "no service has a build: section")
    data = load_cuda_tags()
    rank = {FAIL: 3, WARN: 2, PASS: 1, SKIPPED: 0}
    results: list[tuple[str, str, str | None]] = []
    for service, (path, args) in sorted(files.items()):
        try:
            images = dockerfile_base_images(path.read_text(encoding="utf-8"), args)
        except OSError as exc:
            results.append((FAIL, f"{service}: cannot read {path}: {exc.strerror or exc}", "fix build.dockerfile"))
            continue
        if not images:
            results.append((FAIL, f"{service}: no FROM line in {path}", "add FROM ${BASE_IMAGE}"))
        results.extend(classify_image(image, data) for image in dict.fromkeys(images))
    status, reason, fix = max(results, key=lambda r: rank[r[0]])
    if status == SKIPPED:
        return Check("docker.base_image", "docker", title, SKIPPED, reason)
    others = [r[1] for r in results if r[1] != reason and r[0] != SKIPPED]
    return Check("docker.base_image", "docker", title, status, "; ".join([reason, *others]), fix)


def check_healthchecks(src: Sources) -> Check:
    title = "healthchecks defined (api and worker)"
    missing = [name for name, svc in src.stack.services.items()
               if svc.healthcheck is None or svc.healthcheck.disable or not svc.healthcheck.test
               or svc.healthcheck.test[0] == "NONE"]
    if missing:
        return Check("docker.healthchecks", "docker", title, FAIL, f"no healthcheck for {', '.join(missing)}",
                     f"add a healthcheck: section to {', '.join(missing)} in {src.stack.compose_file.name}")
    return Check("docker.healthchecks", "docker", title, PASS, f"all {len(src.stack.services)} services")


def check_gpu_reservation(src: Sources) -> Check:
    title = "GPU reservation for the worker"
    if src.worker is None:
        return Check("docker.gpu_reservation", "docker", title, SKIPPED, "no worker service in the compose file")
    devices = src.stack.service(src.worker).gpu_devices
    if not devices:
        return Check("docker.gpu_reservation", "docker", title, FAIL, f"service {src.worker} reserves no GPU",
                     f"add deploy.resources.reservations.devices: [{{driver: nvidia, count: 1, capabilities: [gpu]}}] to {src.worker}")
    gpu = [d for d in devices if "gpu" in d.capabilities]
    if not gpu:
        return Check("docker.gpu_reservation", "docker", title, FAIL, f"{src.worker}'s device reservation lacks capabilities: [gpu]",
                     "add capabilities: [gpu] to the reservation")
    return Check("docker.gpu_reservation", "docker", title, PASS,
                 f"{src.worker}: driver {gpu[0].driver or 'default'}, count {gpu[0].count or 'all'}")


# ---------------------------------------------------------------------------- observability
def _api_reason(src: Sources) -> str:
    if not src.api_expected:
        return "no API service in the compose file and AVOPS_API_URL not set"
    if src.vram is None:
        return "API not queried"
    return f"API unavailable: {src.vram.error}"


def check_api_health(src: Sources) -> Check:
    title = "API /health answers"
    if not src.api_expected or src.health is None:
        return Check("api.health", "observability", title, SKIPPED, _api_reason(src))
    if not src.health.ok:
        return Check("api.health", "observability", title, FAIL, src.health.error,
                     "avops status; avops logs api (check AVOPS_API_URL)")
    return Check("api.health", "observability", title, PASS, f"HTTP {src.health.status} in {src.health.latency_s:.3f}s")


def check_vram_endpoint(src: Sources, max_age_s: float) -> Check:
    title = "/admin/vram answers and is fresh"
    if not src.api_expected or src.vram is None:
        return Check("api.vram", "observability", title, SKIPPED, _api_reason(src))
    if not src.vram.ok:
        return Check("api.vram", "observability", title, FAIL, src.vram.error,
                     "check the API service (avops logs api) and AVOPS_API_URL/AVOPS_API_KEY")
    age = src.vram.data.get("age_seconds")
    if not isinstance(age, (int, float)):
        return Check("api.vram", "observability", title, WARN, "answer has no age_seconds", "update the API service")
    if age > max_age_s:
        return Check("api.vram", "observability", title, WARN, f"stats are {age:.0f}s old (> {max_age_s:g}s)",
                     "the worker stopped publishing VRAM stats: avops logs celery")
    return Check("api.vram", "observability", title, PASS, f"{age:.1f}s old")


def check_vram_baseline(src: Sources) -> Check:
    title = "VRAM back to baseline after the last job (LOW_VRAM)"
    stats = src.stats
    if stats is None:
        return Check("vram.baseline", "observability", title, SKIPPED, _api_reason(src))
    if not stats.get("low_vram_mode"):
        return Check("vram.baseline", "observability", title, SKIPPED, "worker is not in LOW_VRAM mode")
    models = stats.get("resident_models") or []
    if any(m.get("in_use") for m in models):
        return Check("vram.baseline", "observability", title, SKIPPED, "a job is running now; try again when idle")
    stuck = [m.get("key") for m in models if m.get("device") == "cuda" and not m.get("parked")]
    if stuck:
        return Check("vram.baseline", "observability", title, FAIL,
                     f"model(s) still on the GPU after their job: {', '.join(map(str, stuck))}",
                     "the worker did not unload: check VRAM_OFFLOAD and the worker logs (avops logs celery)")
    allocated = stats.get("allocated_mb") or 0.0
    if allocated > BASELINE_SLACK_MB:
        return Check("vram.baseline", "observability", title, WARN,
                     f"no model on the GPU but {allocated:,.0f} MB still allocated",
                     "a leak outside the VRAM manager: restart the worker (avops restart celery)")
    return Check("vram.baseline", "observability", title, PASS, f"{allocated:,.0f} MB allocated, no model on the GPU")


# ---------------------------------------------------------------------------- security
def check_api_auth(src: Sources) -> Check:
    title = "API refuses requests without a key"
    probe = src.unauthenticated
    if not src.api_expected or probe is None:
        return Check("security.auth", "security", title, SKIPPED, _api_reason(src))
    if probe.status is None:
        return Check("security.auth", "security", title, SKIPPED, f"API unavailable: {probe.error}")
    if probe.status in (401, 403):
        return Check("security.auth", "security", title, PASS,
                     f"GET {UNAUTH_PROBE} without a key: HTTP {probe.status}")
    if probe.status < 400:
        return Check("security.auth", "security", title, FAIL,
                     f"GET {probe.url} answered HTTP {probe.status} without a key: anyone who reaches "
                     "the API can clone voices and use the GPU",
                     "set API_KEYS and ADMIN_API_KEYS in .env (ALLOW_UNAUTHENTICATED=false), then "
                     "avops restart api")
    return Check("security.auth", "security", title, WARN,
                 f"GET {UNAUTH_PROBE} without a key: unexpected HTTP {probe.status} (expected 401)",
                 "update the API service (avops rebuild --service api)")


def _secret_values(env: dict[str, str]) -> list[str]:
    from audiovoice_ops.core.drift import is_secret

    return sorted(k for k, v in env.items() if v.strip() and (k in KEY_VARIABLES or is_secret(k)))


def check_env_file_mode(src: Sources) -> Check:
    from audiovoice_ops.core.envfile import read_env_file

    title = ".env is private (not world-readable) when it holds keys"
    path = src.stack.env_file
    try:
        mode = path.stat().st_mode
        env = read_env_file(path)
    except (OSError, AvopsError) as exc:
        return Check("security.env_file", "security", title, SKIPPED,
                     f"cannot read {path}: {getattr(exc, 'message', None) or exc}")
    secrets = _secret_values(env)
    if not secrets:
        return Check("security.env_file", "security", title, PASS, f"{path.name} holds no keys or secrets")
    if mode & 0o004:
        return Check("security.env_file", "security", title, WARN,
                     f"{path} (mode {mode & 0o777:o}) is world-readable and holds {', '.join(secrets)}",
                     f"chmod 600 {path}")
    return Check("security.env_file", "security", title, PASS,
                 f"mode {mode & 0o777:o}; holds {', '.join(secrets)}")


def _is_loopback(host_ip: str | None) -> bool:
    import ipaddress

    if not host_ip:
        return False  # no address: Docker publishes on every interface
    if host_ip.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host_ip).is_loopback
    except ValueError:
        return False


def check_public_bind(src: Sources) -> Check:
    title = "API published on loopback only"
    published = [(name, port) for name, svc in src.stack.services.items() for port in svc.ports
                 if port.published is not None or port.host_ip]
    if not published:
        return Check("security.bind", "security", title, PASS, "no service publishes a port on the host")
    public = [f"{name} {port.host_ip or '0.0.0.0'}:{port.published or port.target}"
              for name, port in published if not _is_loopback(port.host_ip)]
    if public:
        return Check("security.bind", "security", title, WARN,
                     f"published on a public interface: {', '.join(public)}",
                     "API_BIND_ADDRESS=127.0.0.1 in .env (a TLS reverse proxy for remote clients), "
                     "then avops restart api")
    where = ", ".join(f"{name} {port.host_ip}:{port.published or port.target}" for name, port in published)
    return Check("security.bind", "security", title, PASS, where)


def _is_root(user: str) -> bool:
    name = user.split(":", 1)[0].strip()
    return name in ("", "0", "root")


def check_root_containers(src: Sources) -> Check:
    title = "containers run as a non-root user"
    if src.inventory is None:
        return Check("security.root", "security", title, SKIPPED, f"Docker Engine unreachable: {src.docker_error}")
    views = [v for group in src.inventory.services.values() for v in group]
    if not views:
        return Check("security.root", "security", title, SKIPPED, "no containers")
    root = [f"{v.name} (user {v.user or 'unset: root'})" for v in views if _is_root(v.user)]
    if root:
        return Check("security.root", "security", title, WARN, f"running as root: {', '.join(root)}",
                     "set user: in the compose file (or USER in the Dockerfile), then avops rebuild")
    return Check("security.root", "security", title, PASS,
                 ", ".join(f"{v.name} as {v.user}" for v in views))
