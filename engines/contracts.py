"""The wire contracts between the worker, the API and avops, defined once.

* ``VramStats``: what ``VramManager.stats()`` produces in the worker;
* ``VramResponse``: what the worker publishes to Redis (``service.vram_publish``) as the API
  serves it on ``GET /admin/vram`` (the stats plus who published them, when, and their age);
* ``HealthResponse`` / ``HealthCheck``: what ``GET /health`` answers.

The producer builds these models, the API uses them as its response schemas, and avops
(``core.apiclient``, ``commands/vram.py``, ``core/doctor``) validates the answers with them, so
a key renamed on one side fails a test instead of showing up as ``-`` in the operator's table.

Why here: ``engines`` is the one package every install ships (the CLI wheel, the API image and
the worker image), and this module imports pydantic only: no torch, no FastAPI, no Redis.
Readers are tolerant (unknown keys are ignored), so an avops one version apart still reads the
fields it knows.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

Device = Literal["cuda", "cpu"]
HealthStatus = Literal["ok", "degraded", "unhealthy"]
# Where a model is: on the GPU, loaded on the CPU (a CPU device), parked in host RAM by
# VRAM_OFFLOAD=cpu, or not loaded at all.
ModelState = Literal["gpu", "cpu", "parked", "free"]

# The manager's counters of what moved memory, in the order the operator's table shows them,
# and every counter (a cache hit moves nothing: in normal mode it is every job).
MEMORY_EVENTS = (
    "loads",
    "unloads",
    "evictions",
    "expiries",
    "swaps_in",
    "oom_recoveries",
    "cpu_fallbacks",
)
COUNTERS = (*MEMORY_EVENTS, "cache_hits")


class _Contract(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ResidentModel(_Contract):
    """One model the VRAM manager holds."""

    key: str = Field(..., description="Engine name the model belongs to (f5tts, xtts).")
    device: Device = Field(..., description="Where its weights are now.")
    size_mb: float
    parked: bool = Field(
        ...,
        description="In host RAM because VRAM_OFFLOAD=cpu took it off "
        "the GPU (swapped back for the next job without a checkpoint read).",
    )
    in_use: int = Field(..., description="Jobs running with it now.")
    last_used_s_ago: float
    state: Optional[ModelState] = Field(default=None, description="gpu | cpu | parked.")
    keep_alive_s: Optional[float] = Field(
        default=None,
        description="How long it stays after its last job: -1 forever, 0 leaves at once.",
    )
    expires_in_s: Optional[float] = Field(
        default=None,
        description="Seconds until the keep-alive takes it off the GPU; null when not "
        "counting down (in use, kept forever, already parked).",
    )


class VramStats(_Contract):
    """``VramManager.stats()``: memory figures, resident models and counters of one worker.

    Defaults describe a worker without the engines extra (``error`` says so): no GPU, no model.
    """

    available: bool = Field(default=False, description="CUDA available to the worker.")
    low_vram_mode: Optional[bool] = Field(
        default=None, description="LOW_VRAM as the worker parsed it."
    )
    offload: Optional[Literal["cpu", "none"]] = Field(default=None, description="VRAM_OFFLOAD.")
    device: Device = "cpu"
    allocated_mb: float = 0.0
    reserved_mb: float = 0.0
    free_mb: Optional[float] = Field(
        default=None, description="Free VRAM the driver reports; null without CUDA."
    )
    total_mb: Optional[float] = None
    reserve_mb: Optional[int] = Field(default=None, description="VRAM_RESERVE_MB.")
    keep_alive_s: Optional[float] = Field(
        default=None, description="MODEL_KEEP_ALIVE in force (-1 forever, 0 leave at once)."
    )
    keep_alive_max_s: Optional[float] = Field(
        default=None, description="MODEL_KEEP_ALIVE_MAX: the longest a job may ask for."
    )
    resident_models: list[ResidentModel] = Field(default_factory=list)
    loads: int = 0
    unloads: int = 0
    evictions: int = 0
    expiries: int = Field(default=0, description="Models taken off the GPU by their keep-alive.")
    oom_recoveries: int = 0
    cache_hits: int = 0
    swaps_in: int = 0
    cpu_fallbacks: int = 0
    mean_load_s: Optional[float] = None
    mean_swap_s: Optional[float] = None
    error: Optional[str] = Field(default=None, description="Why the worker has no VRAM manager.")


class VramResponse(_Contract):
    """``GET /admin/vram``: the last stats a worker published; every field null before one did."""

    vram: Optional[VramStats] = Field(
        default=None, description="VramManager.stats() of the worker."
    )
    timestamp: Optional[str] = Field(
        default=None, description="When the worker published it (UTC ISO)."
    )
    age_seconds: Optional[float] = None
    worker: Optional[str] = Field(default=None, description="Node name and pid that published it.")
    event: Optional[str] = Field(
        default=None,
        description="What triggered the publish (load, swap_in, "
        "park, unload, task, heartbeat, startup).",
    )


class ModelInfo(_Contract):
    """One engine's model in one worker, as ``GET /admin/models`` lists it."""

    engine: str
    state: ModelState = Field(..., description="gpu | cpu | parked (host RAM) | free.")
    device: Optional[Device] = Field(
        default=None, description="Where its weights are; null if free."
    )
    size_mb: Optional[float] = None
    in_use: int = 0
    last_used: Optional[str] = Field(default=None, description="UTC ISO time of its last job.")
    keep_alive_s: Optional[float] = None
    expires_at: Optional[str] = Field(
        default=None,
        description="UTC ISO time its keep-alive takes it off the GPU; null when not counting down.",
    )


class WorkerModels(_Contract):
    """One worker's models (from the stats it published ``age_seconds`` ago)."""

    worker: str = Field(..., description="Celery node name (celery@host).")
    age_seconds: Optional[float] = None
    device: Device = "cpu"
    allocated_mb: float = Field(
        default=0.0, description="VRAM its tensors hold (0 on a CPU worker)."
    )
    reserved_mb: float = 0.0
    free_mb: Optional[float] = Field(default=None, description="Free VRAM of its GPU; null on CPU.")
    total_mb: Optional[float] = None
    keep_alive_s: Optional[float] = Field(default=None, description="MODEL_KEEP_ALIVE in force.")
    keep_alive_max_s: Optional[float] = None
    models: list[ModelInfo] = Field(default_factory=list)


class ModelsResponse(_Contract):
    """``GET /admin/models``: every worker that published stats recently."""

    workers: list[WorkerModels] = Field(default_factory=list)


class ModelCommandResult(_Contract):
    """What one worker answered to a load or unload."""

    worker: str
    engine: str
    ok: bool
    state: Optional[ModelState] = Field(default=None, description="The model's state afterwards.")
    seconds: Optional[float] = Field(default=None, description="How long the command took.")
    error: Optional[str] = None


class ModelCommandResponse(_Contract):
    """``POST /admin/models/{engine}/load`` and ``DELETE /admin/models/{engine}``."""

    engine: str
    action: Literal["load", "unload"]
    results: list[ModelCommandResult] = Field(default_factory=list)


class HealthCheck(_Contract):
    ok: bool
    detail: str


class HealthResponse(_Contract):
    status: HealthStatus = Field(..., description="ok | degraded (no worker) | unhealthy (503).")
    checks: Optional[dict[str, HealthCheck]] = Field(
        default=None,
        description="redis, worker, storage, queue; only for admin keys (left out otherwise).",
    )


__all__ = [
    "COUNTERS",
    "MEMORY_EVENTS",
    "Device",
    "ModelCommandResponse",
    "ModelCommandResult",
    "ModelInfo",
    "ModelState",
    "ModelsResponse",
    "WorkerModels",
    "HealthCheck",
    "HealthResponse",
    "HealthStatus",
    "ResidentModel",
    "VramResponse",
    "VramStats",
]
