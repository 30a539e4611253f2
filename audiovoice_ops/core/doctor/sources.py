"""Everything the checks read, gathered once: compose model, Docker inventory, NVML, the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from audiovoice_ops.core.errors import AvopsError

if TYPE_CHECKING:
    import docker
    from audiovoice_ops.core.apiclient import ApiClient, ApiResult
    from audiovoice_ops.core.inventory import Inventory
    from audiovoice_ops.core.stack import Stack
    from audiovoice_ops.gpu.types import GpuSnapshot


DEFAULT_MAX_AGE_S = 30.0
BASELINE_SLACK_MB = 256.0  # allocated VRAM tolerated in LOW_VRAM with no model on the GPU
API_NAMES = ("api", "audio-voice-api")
UNAUTH_PROBE = "/admin/vram"
VOICES_PATH = "/voices"  # every voice with its owner, to an admin key
KEY_VARIABLES = ("API_KEYS", "ADMIN_API_KEYS")


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
    voices: ApiResult | None = None  # GET /voices with the admin key (owners)

    @property
    def stats(self) -> dict | None:
        return self.vram.data["vram"] if self.vram is not None and self.vram.ok else None


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
        src.voices = api.get(VOICES_PATH)
    return src


def api_reason(src: Sources) -> str:
    """Why API-based checks are skipped."""
    if not src.api_expected:
        return "no API service in the compose file and AVOPS_API_URL not set"
    if src.vram is None:
        return "API not queried"
    return f"API unavailable: {src.vram.error}"
