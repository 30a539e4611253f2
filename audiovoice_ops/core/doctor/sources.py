"""Everything the checks read, gathered once: compose model, Docker inventory, NVML, the API."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import docker

    from audiovoice_ops.core.apiclient import ApiClient, ApiResult
    from audiovoice_ops.core.inventory import Inventory
    from audiovoice_ops.core.project import Project
    from audiovoice_ops.core.stack import Stack
    from audiovoice_ops.gpu.types import GpuSnapshot
    from engines.contracts import VramStats


DEFAULT_MAX_AGE_S = 30.0
BASELINE_SLACK_MB = 256.0  # allocated VRAM tolerated in LOW_VRAM with no model on the GPU
UNAUTH_PROBE = "/admin/vram"
VOICES_PATH = "/voices"  # every voice with its owner, to an admin key
KEY_VARIABLES = ("API_KEYS", "ADMIN_API_KEYS")


@dataclass
class Sources:
    project: Project
    client: docker.DockerClient | None = None
    docker_error: str | None = None
    inventory: Inventory | None = None
    gpu: GpuSnapshot | None = None
    api_expected: bool = False
    health: ApiResult | None = None
    vram: ApiResult | None = None
    unauthenticated: ApiResult | None = None  # GET /admin/vram sent without a key
    voices: ApiResult | None = None  # GET /voices with the admin key (owners)
    models: ApiResult | None = None  # GET /admin/models (every worker's models and keep-alive)
    worker_hosts: list[dict] = field(default_factory=list)  # `avops worker add` hosts, each read

    @property
    def stack(self) -> Stack:
        return self.project.stack

    @property
    def worker(self) -> str | None:
        return self.project.worker

    def worker_or(self, fallback: str = "SERVICE") -> str:
        """The worker's name for fix texts (``avops logs NAME``); a placeholder when none is found."""
        return self.project.worker or fallback

    def api_or(self, fallback: str = "api") -> str:
        """The API service's name for fix texts; the compose file's usual name when none is found."""
        return self.project.api or fallback

    @property
    def stats(self) -> VramStats | None:
        """The worker's VRAM stats (``engines.contracts``), None when /admin/vram did not answer them."""
        return self.vram.parsed.vram if self.vram is not None and self.vram.ok else None


def gather(project: Project, settings, api: ApiClient | None, gpu: GpuSnapshot | None) -> Sources:
    """Read every source once; the project's client and inventory are shared by all checks."""
    src = Sources(project=project, gpu=gpu)
    src.client = project.client_or_none()
    if src.client is None:
        src.docker_error = project.docker_error
    else:
        src.inventory = project.inventory
    from audiovoice_ops.core.status import worker_host_reports

    src.worker_hosts = worker_host_reports(project)
    src.api_expected = project.api is not None or "api_url" in settings.model_fields_set
    if api is not None and src.api_expected:
        src.health, src.vram = api.health(), api.vram()
        src.unauthenticated = api.get(UNAUTH_PROBE, authenticated=False)
        src.voices = api.get(VOICES_PATH)
        src.models = api.models()
    return src


def api_reason(src: Sources) -> str:
    """Why API-based checks are skipped."""
    if not src.api_expected:
        return "no API service in the compose file and AVOPS_API_URL not set"
    if src.vram is None:
        return "API not queried"
    return f"API unavailable: {src.vram.error}"
