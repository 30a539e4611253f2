"""``avops check-gpu`` as data: three layers, each answering "can the GPU be used from here?".

1. host: NVML starts and lists GPUs (plus the LOW_VRAM / fp16 recommendation against ``.env``);
2. engine: the Docker Engine can hand a GPU to a container: a throw-away container with a GPU
   device request is created and started (the only reliable test: dockerd registers the
   ``nvidia`` device driver only when the NVIDIA Container Toolkit's hook is installed);
3. container: ``python -m engines.cuda_check --json`` inside the running worker says whether torch
   sees CUDA there;
4. arch: the host GPUs' compute capabilities against the architectures the worker's torch was
   built for (its report's ``arch_list``), with the image variant that fixes a mismatch.

The exit code is the first layer that fails (10, 11, 12; arch counts as the container: 12),
0 when all usable layers pass.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from audiovoice_ops.core import labels as L
from audiovoice_ops.core.errors import ExitCode
from audiovoice_ops.gpu.arch import assess
from audiovoice_ops.gpu.toolkit import TOOLKIT_FIX, lacks_gpu_driver
from audiovoice_ops.gpu.types import GpuSnapshot
from engines.cuda_check import SMALL_GPU_GB  # the worker's own rules (stdlib-only modules)
from engines.precision import fp16_supported

if TYPE_CHECKING:
    import docker

    from audiovoice_ops.core.containers import ContainerView
    from audiovoice_ops.core.project import Project

PROBE_LABEL = f"{L.AVOPS_PREFIX}.probe"
CUDA_CHECK_CMD = ["python", "-m", "engines.cuda_check", "--json"]


@dataclass
class Layer:
    name: str  # host | engine | container
    status: str  # pass | warn | fail | skipped
    message: str
    fix: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "message": self.message, "fix": self.fix, **self.details}


@dataclass
class GpuCheckReport:
    host: Layer
    recommendation: Layer
    engine: Layer
    container: Layer
    arch: Layer
    snapshot: GpuSnapshot | None = None

    @property
    def failing(self) -> list[tuple[Layer, ExitCode]]:
        """The layers that can fail, with their exit codes, in the order they are judged."""
        return [
            (self.host, ExitCode.GPU_NO_DRIVER),
            (self.engine, ExitCode.GPU_ENGINE),
            (self.container, ExitCode.GPU_CONTAINER),
            (self.arch, ExitCode.GPU_CONTAINER),  # the container's torch cannot run the GPU
        ]

    @property
    def layers(self) -> list[Layer]:
        return [self.host, self.recommendation, self.engine, self.container, self.arch]

    @property
    def exit_code(self) -> ExitCode:
        return next((code for layer, code in self.failing if layer.status == "fail"), ExitCode.OK)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.exit_code == ExitCode.OK,
            "exit_code": int(self.exit_code),
            "host": {
                **self.host.to_dict(),
                "nvml": self.snapshot.to_dict() if self.snapshot else None,
            },
            "recommendation": self.recommendation.to_dict(),
            "engine": self.engine.to_dict(),
            "container": self.container.to_dict(),
            "arch": self.arch.to_dict(),
        }


# ---------------------------------------------------------------------------- host
def check_host(snapshot: GpuSnapshot) -> Layer:
    if not snapshot.available:
        from audiovoice_ops.gpu.nvml import NO_DRIVER_HINT

        return Layer("host", "fail", f"NVML unavailable: {snapshot.error}", NO_DRIVER_HINT)
    if not snapshot.gpus:
        return Layer(
            "host",
            "fail",
            f"NVIDIA driver {snapshot.driver_version} loaded but no GPU found",
            "check that the GPU is seated and visible (nvidia-smi -L)",
        )
    names = "; ".join(
        f"GPU {g.index} {g.name} {g.memory_total_gb:.1f} GB cc {g.compute_cap or '?'}"
        for g in snapshot.gpus
    )
    return Layer(
        "host",
        "pass",
        f"driver {snapshot.driver_version} (CUDA {snapshot.cuda_driver_version}): {names}",
        details={
            "driver_version": snapshot.driver_version,
            "cuda_driver_version": snapshot.cuda_driver_version,
        },
    )


def recommend(snapshot: GpuSnapshot, env_low_vram: str | None) -> Layer:
    """LOW_VRAM below 6 GB, fp16 by engines.precision's rule; compared with the ``.env`` value."""
    if not snapshot.available or not snapshot.gpus:
        return Layer("recommendation", "skipped", "no GPU to size LOW_VRAM against")
    gpu = snapshot.gpus[0]  # the worker's device (cuda:0)
    low_vram = gpu.memory_total_gb < SMALL_GPU_GB
    cc = gpu.compute_cap_tuple
    fp16, fp16_why = (
        (False, "compute capability unknown") if cc is None else fp16_supported(cc, gpu.name)
    )
    details = {
        "gpu": gpu.index,
        "memory_total_gb": round(gpu.memory_total_gb, 2),
        "low_vram_recommended": low_vram,
        "fp16_recommended": fp16,
        "env_low_vram": env_low_vram,
    }
    why = (
        f"{gpu.name} has {gpu.memory_total_gb:.1f} GB ({'<' if low_vram else '>='} {SMALL_GPU_GB:.0f} GB): "
        f"LOW_VRAM={'true' if low_vram else 'false'} recommended; {fp16_why} (FP16=auto follows it)"
    )
    if env_low_vram is None:
        return Layer(
            "recommendation",
            "warn",
            f"{why}; LOW_VRAM is not set in .env",
            f"set LOW_VRAM={'true' if low_vram else 'false'} in .env, then avops restart",
            details,
        )
    from audiovoice_ops.core.envfacts import LOW_VRAM
    from audiovoice_ops.core.envfile import parse_bool
    from audiovoice_ops.core.errors import ConfigError

    try:
        configured = parse_bool(LOW_VRAM, env_low_vram)
    except ConfigError as exc:
        return Layer(
            "recommendation", "warn", f"{why}; {exc.message}", "fix LOW_VRAM in .env", details
        )
    if configured != low_vram:
        return Layer(
            "recommendation",
            "warn",
            f"{why}; .env has LOW_VRAM={env_low_vram}",
            f"set LOW_VRAM={'true' if low_vram else 'false'} in .env, then avops restart",
            details,
        )
    return Layer(
        "recommendation", "pass", f"{why}; .env agrees (LOW_VRAM={env_low_vram})", details=details
    )


# ---------------------------------------------------------------------------- engine
def probe_image(client: docker.DockerClient, preferred: list[str]) -> str | None:
    """A local image to run the probe with: the service's image if present, else the smallest one."""
    from docker.errors import ImageNotFound

    for name in preferred:
        try:
            client.api.inspect_image(name)
            return name
        except ImageNotFound:
            continue
    tagged = [
        i for i in client.api.images() if any(t != "<none>:<none>" for t in i.get("RepoTags") or [])
    ]
    if not tagged:
        return None
    smallest = min(tagged, key=lambda i: i.get("Size") or 0)
    return next(t for t in smallest["RepoTags"] if t != "<none>:<none>")


def check_engine(client: docker.DockerClient | None, preferred_images: list[str]) -> Layer:
    if client is None:
        return Layer(
            "engine", "skipped", "Docker Engine unreachable", "start dockerd or set DOCKER_HOST"
        )
    from docker.errors import APIError
    from docker.types import DeviceRequest

    runtimes = sorted((client.info().get("Runtimes") or {}).keys())
    image = probe_image(client, preferred_images)
    details: dict[str, Any] = {"runtimes": runtimes, "image": image}
    if image is None:
        return Layer(
            "engine",
            "skipped",
            "no local image to run the GPU probe with",
            "build the stack first (avops rebuild)",
            details,
        )
    name = f"avops-gpu-probe-{uuid.uuid4().hex[:8]}"
    container_id = None
    try:
        host_config = client.api.create_host_config(
            device_requests=[DeviceRequest(driver="nvidia", count=-1, capabilities=[["gpu"]])],
            network_mode="none",
        )
        container_id = client.api.create_container(
            image,
            entrypoint=["true"],
            command=[],
            name=name,
            host_config=host_config,
            labels={L.MANAGED_BY: L.MANAGED_BY_VALUE, PROBE_LABEL: "gpu"},
        )["Id"]
        client.api.start(container_id)
        result = client.api.wait(container_id, timeout=60)
        details["probe_exit_code"] = result.get("StatusCode")
    except APIError as exc:
        text = str(exc.explanation or exc)
        details["error"] = text
        if lacks_gpu_driver(text):
            return Layer(
                "engine",
                "fail",
                f"engine cannot pass GPUs to containers: {text.strip()}",
                TOOLKIT_FIX,
                details,
            )
        if "nvidia-container-cli" in text or "nvidia" in text.lower():
            return Layer(
                "engine",
                "fail",
                f"engine cannot pass GPUs to containers: {_first_line(text)}",
                "the NVIDIA Container Toolkit is installed but failed; check the host driver "
                "(nvidia-smi) and `nvidia-container-cli info`",
                details,
            )
        return Layer(
            "engine", "warn", f"GPU probe inconclusive: {_first_line(text)}", None, details
        )
    except Exception as exc:  # noqa: BLE001  (a timeout waiting for the probe, a broken connection)
        details["error"] = str(exc)
        return Layer(
            "engine",
            "warn",
            f"GPU probe inconclusive: {type(exc).__name__}: {_first_line(str(exc))}",
            None,
            details,
        )
    finally:
        if container_id is not None:
            remove_quietly(client, container_id)
    return Layer(
        "engine",
        "pass",
        f"a container started with a GPU device request (probe image {image})",
        details=details,
    )


def remove_quietly(client: docker.DockerClient, container_id: str) -> None:
    try:
        client.api.remove_container(container_id, force=True)
    except Exception:  # noqa: BLE001  (cleanup of the probe must not hide the check's result)
        pass


# ---------------------------------------------------------------------------- container
def check_container(project: Project | None, host_has_gpu: bool) -> Layer:
    if project is None:
        return Layer(
            "container",
            "skipped",
            "no compose file loaded: cannot find the worker",
            "run from the repository root or set AVOPS_COMPOSE_FILE",
        )
    service, client = project.worker, project.client_or_none()
    if service is None:
        return Layer(
            "container",
            "skipped",
            "no worker service found in the compose file",
            "name it with --service",
        )
    if client is None:
        return Layer(
            "container", "skipped", "Docker Engine unreachable", "start dockerd or set DOCKER_HOST"
        )
    views = [v for v in project.inventory.services.get(service, []) if v.running]
    if not views:
        return Layer(
            "container",
            "skipped",
            f"service {service!r} has no running container",
            f"start the stack (avops rebuild --service {service})",
            {"service": service},
        )
    view = views[0]  # one worker per GPU: the probe runs in replica 1, the others are listed
    details: dict[str, Any] = {
        "service": service,
        "container": view.name,
        "gpu_requested": view.gpu,
        "workers": [worker_gpu(v) for v in views],
    }
    try:
        result = client.api.exec_create(
            view.id,
            CUDA_CHECK_CMD,
            stdout=True,
            stderr=True,
            environment={"PYTHONWARNINGS": "ignore"},
        )
        output = client.api.exec_start(result["Id"], demux=True)
        code = client.api.exec_inspect(result["Id"]).get("ExitCode")
    except Exception as exc:  # noqa: BLE001  (any failure to exec is this layer's verdict)
        return Layer(
            "container",
            "fail",
            f"cannot exec in {view.name}: {_first_line(str(exc))}",
            None,
            details,
        )
    stdout = (output[0] or b"").decode(errors="replace") if output else ""
    stderr = (output[1] or b"").decode(errors="replace") if output else ""
    report = _parse_report(stdout)
    if code != 0 or report is None:
        reason = _first_line(
            (stderr or stdout).strip().splitlines()[-1]
            if (stderr or stdout).strip()
            else f"exit {code}"
        )
        return Layer(
            "container",
            "fail",
            f"`{' '.join(CUDA_CHECK_CMD)}` failed in {view.name}: {reason}",
            f"rebuild the worker image so it contains the engines package (avops rebuild --service {service})",
            {**details, "exit_code": code},
        )
    details["cuda_check"] = report
    if report.get("available"):
        others = "; ".join(f"{w['container']} on {w['gpu']}" for w in details["workers"][1:])
        return Layer(
            "container",
            "pass",
            f"{view.name}: torch {report.get('torch_version')} sees {report.get('device_name')} "
            f"(CUDA {report.get('cuda_version')}, {report.get('free_vram_mb')}/{report.get('total_vram_mb')} MB free)"
            + (f"; other workers: {others}" if others else ""),
            details=details,
        )
    notes = "; ".join(report.get("notes") or [])
    fix = (
        f"recreate the worker with its GPU reservation: AVOPS_GPUS=on avops rebuild --service {service}"
        if not view.gpu
        else "check the image's CUDA/torch build against the driver (avops check-gpu --json)"
    )
    status = "fail" if host_has_gpu or view.gpu else "warn"
    return Layer(
        "container",
        status,
        f"{view.name}: torch cannot use CUDA ({notes or 'no reason given'})"
        + ("" if view.gpu else "; the container has no GPU device request"),
        fix,
        details,
    )


def worker_gpu(view: ContainerView) -> dict[str, Any]:
    """Which GPU a worker container holds: its device request's ids (``all``: every GPU), else
    the GPU avops planned for it (``core/replicas.py``; ``none``: a CPU worker)."""
    if view.gpu_devices:
        gpu = ", ".join(d if d == "all" else f"GPU {d}" for d in view.gpu_devices)
    elif view.planned_gpu not in (None, "none"):
        gpu = f"no GPU (GPU {view.planned_gpu} planned)"
    else:
        gpu = "no GPU"
    return {"container": view.name, "replica": view.number, "gpu": gpu}


def _parse_report(stdout: str) -> dict | None:
    start = stdout.find("{")
    if start < 0:
        return None
    try:
        data = json.loads(stdout[start:])
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _first_line(text: str) -> str:
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def run_check(
    snapshot: GpuSnapshot,
    client: docker.DockerClient | None,
    project: Project | None,
    env_low_vram: str | None,
    probe_engine: bool = True,
) -> GpuCheckReport:
    """``project`` (None: no compose file) names the worker and shares ``client``."""
    from audiovoice_ops.core.convergence import image_name

    host = check_host(snapshot)
    preferred = (
        [image_name(project.stack, project.worker)]
        if project is not None and project.worker
        else []
    )
    engine = (
        check_engine(client, preferred)
        if probe_engine
        else Layer("engine", "skipped", "engine probe disabled (--no-engine-probe)")
    )
    container = check_container(project, host.status == "pass")
    return GpuCheckReport(
        host=host,
        recommendation=recommend(snapshot, env_low_vram),
        engine=engine,
        container=container,
        arch=check_arch_layer(snapshot, container),
        snapshot=snapshot,
    )


# ---------------------------------------------------------------------------- arch
def check_arch_layer(snapshot: GpuSnapshot | None, container: Layer) -> Layer:
    """The host GPUs against the worker's torch build (the container layer's report)."""
    report = container.details.get("cuda_check")
    finding = assess(snapshot, report, f"no report from the worker ({container.message})")
    return Layer("arch", finding.status, finding.message, finding.fix, finding.details)
