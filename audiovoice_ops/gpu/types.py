"""Plain data for what NVML reports: a ``GpuSnapshot`` of ``GpuInfo`` with their ``GpuProcess``.

No pynvml here: the NVML backend (``nvml.py``) fills these, tests load them from recorded JSON
(``GpuSnapshot.from_dict``/``load_snapshot``), and the commands render them. JSON keys follow
``nvidia-smi --query-gpu`` names (``memory.used``, ``utilization.gpu``, ...); memory is in MiB.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audiovoice_ops.core.errors import ConfigError


@dataclass
class GpuProcess:
    pid: int
    used_memory_mib: float | None  # None: NVML does not know (e.g. under some virtualisation)
    name: str | None = None  # process name, from /proc/<pid>/comm when readable
    container_id: str | None = None  # filled by gpu.containers.annotate
    container: str | None = None  # container name, e.g. audio-voice-celery
    service: str | None = None  # compose service of that container

    def to_dict(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "process_name": self.name,
            "used_memory": self.used_memory_mib,
            "container_id": self.container_id,
            "container": self.container,
            "service": self.service,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GpuProcess:
        return cls(
            pid=int(data["pid"]),
            used_memory_mib=_num(data.get("used_memory")),
            name=data.get("process_name"),
            container_id=data.get("container_id"),
            container=data.get("container"),
            service=data.get("service"),
        )


@dataclass
class GpuInfo:
    index: int
    name: str
    uuid: str
    compute_cap: str | None  # "8.6"
    memory_total_mib: float
    memory_used_mib: float
    memory_free_mib: float
    utilization_gpu: int | None = None  # percent
    utilization_memory: int | None = None  # percent
    temperature_gpu: int | None = None  # Celsius
    power_draw_w: float | None = None
    power_limit_w: float | None = None
    processes: list[GpuProcess] = field(default_factory=list)

    @property
    def memory_total_gb(self) -> float:
        return self.memory_total_mib / 1024

    @property
    def compute_cap_tuple(self) -> tuple[int, int] | None:
        if not self.compute_cap:
            return None
        major, _, minor = self.compute_cap.partition(".")
        try:
            return int(major), int(minor or 0)
        except ValueError:
            return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "uuid": self.uuid,
            "compute_cap": self.compute_cap,
            "memory.total": self.memory_total_mib,
            "memory.used": self.memory_used_mib,
            "memory.free": self.memory_free_mib,
            "utilization.gpu": self.utilization_gpu,
            "utilization.memory": self.utilization_memory,
            "temperature.gpu": self.temperature_gpu,
            "power.draw": self.power_draw_w,
            "power.limit": self.power_limit_w,
            "processes": [p.to_dict() for p in self.processes],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GpuInfo:
        return cls(
            index=int(data["index"]),
            name=str(data["name"]),
            uuid=str(data.get("uuid", "")),
            compute_cap=data.get("compute_cap"),
            memory_total_mib=float(data["memory.total"]),
            memory_used_mib=float(data["memory.used"]),
            memory_free_mib=float(
                data.get("memory.free", float(data["memory.total"]) - float(data["memory.used"]))
            ),
            utilization_gpu=_int(data.get("utilization.gpu")),
            utilization_memory=_int(data.get("utilization.memory")),
            temperature_gpu=_int(data.get("temperature.gpu")),
            power_draw_w=_num(data.get("power.draw")),
            power_limit_w=_num(data.get("power.limit")),
            processes=[GpuProcess.from_dict(p) for p in data.get("processes") or []],
        )


@dataclass
class GpuSnapshot:
    """One reading of the host's GPUs. ``available`` False: NVML could not start (``error`` says why)."""

    available: bool
    driver_version: str | None = None
    cuda_driver_version: str | None = None  # "12.4": the newest CUDA the driver supports
    nvml_version: str | None = None
    gpus: list[GpuInfo] = field(default_factory=list)
    error: str | None = None
    timestamp: float | None = None  # time.time() of the reading

    @property
    def processes(self) -> list[GpuProcess]:
        return [p for gpu in self.gpus for p in gpu.processes]

    def to_dict(self) -> dict[str, Any]:
        return {
            "available": self.available,
            "driver_version": self.driver_version,
            "cuda_driver_version": self.cuda_driver_version,
            "nvml_version": self.nvml_version,
            "error": self.error,
            "timestamp": self.timestamp,
            "gpus": [g.to_dict() for g in self.gpus],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GpuSnapshot:
        return cls(
            available=bool(data.get("available", True)),
            driver_version=data.get("driver_version"),
            cuda_driver_version=data.get("cuda_driver_version"),
            nvml_version=data.get("nvml_version"),
            error=data.get("error"),
            timestamp=_num(data.get("timestamp")),
            gpus=[GpuInfo.from_dict(g) for g in data.get("gpus") or []],
        )


def load_snapshot(path: Path) -> GpuSnapshot:
    """A recorded snapshot (``avops vram --json`` output's ``gpu`` object, or a bare snapshot)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("gpu"), dict):
            data = data["gpu"]
        return GpuSnapshot.from_dict(data)
    except FileNotFoundError:
        raise ConfigError(f"NVML snapshot file not found: {path}") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"invalid NVML snapshot {path}: {type(exc).__name__}: {exc}") from None


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
