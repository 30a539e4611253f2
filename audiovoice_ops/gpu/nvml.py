"""The NVML backend: the only module that imports ``pynvml`` (distribution ``nvidia-ml-py``).

``NvmlSession`` initialises NVML once and reads ``GpuSnapshot``s (driver, per GPU memory,
utilisation, temperature, power and compute processes); ``read_snapshot()`` is the one-shot form.
No driver (as on a CPU-only host) is a finding, not a crash: the snapshot says ``available=False``
with the reason. Every per-device query is optional: a GPU that does not support one (power on
some laptops, utilisation under MIG) gets ``None`` for that field instead of failing the reading.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from audiovoice_ops.gpu.types import GpuInfo, GpuProcess, GpuSnapshot

T = TypeVar("T")
MIB = 1024 * 1024

NO_DRIVER_HINT = (
    "install the NVIDIA driver on the host (nvidia-smi must work), "
    "or run avops on the GPU host (DOCKER_HOST=ssh://user@gpu-host)"
)


def _nvml():
    import pynvml

    return pynvml


def describe_init_error(exc: BaseException) -> str:
    """One line for an ``nvmlInit`` failure."""
    pynvml = _nvml()
    known = {
        "NVMLError_LibraryNotFound": "no NVIDIA driver: libnvidia-ml.so.1 not found",
        "NVMLError_DriverNotLoaded": "the NVIDIA kernel driver is not loaded",
        "NVMLError_NoPermission": "no permission to talk to the NVIDIA driver",
        "NVMLError_InsufficientPower": "a GPU lacks power (check its power cables)",
        "NVMLError_GpuIsLost": "a GPU fell off the bus (GPU is lost)",
    }
    name = type(exc).__name__
    if name in known:
        return known[name]
    if isinstance(exc, pynvml.NVMLError):
        return f"NVML failed to start: {exc}"
    return f"NVML failed to start: {name}: {exc}"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class NvmlSession:
    """``with NvmlSession() as nvml: nvml.snapshot()``: one ``nvmlInit`` for many readings
    (a watch loop must not pay the init cost every second)."""

    def __init__(self) -> None:
        self._started = False
        self.error: str | None = None
        self._static: dict[int, dict[str, Any]] = {}  # per-index name/uuid/cc: read once

    def __enter__(self) -> NvmlSession:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> bool:
        try:
            pynvml = _nvml()
        except ImportError:
            self.error = "nvidia-ml-py (pynvml) is not installed"
            return False
        try:
            pynvml.nvmlInit()
        except Exception as exc:  # noqa: BLE001  (NVMLError subclasses, or OSError from a broken library)
            self.error = describe_init_error(exc)
            return False
        self._started = True
        self.error = None
        return True

    def close(self) -> None:
        if self._started:
            try:
                _nvml().nvmlShutdown()
            except Exception:  # noqa: BLE001  (closing is best effort: the snapshots are taken already)
                pass
            self._started = False

    def snapshot(self) -> GpuSnapshot:
        now = time.time()
        if not self._started:
            return GpuSnapshot(
                available=False, error=self.error or "NVML not started", timestamp=now
            )
        pynvml = _nvml()
        try:
            count = pynvml.nvmlDeviceGetCount()
        except pynvml.NVMLError as exc:
            return GpuSnapshot(
                available=False, error=f"NVML: cannot count GPUs: {exc}", timestamp=now
            )
        snap = GpuSnapshot(
            available=True,
            driver_version=self._optional(lambda: _text(pynvml.nvmlSystemGetDriverVersion())),
            cuda_driver_version=self._optional(self._cuda_driver_version),
            nvml_version=self._optional(lambda: _text(pynvml.nvmlSystemGetNVMLVersion())),
            timestamp=now,
        )
        for index in range(count):
            try:
                snap.gpus.append(self._gpu(index))
            except pynvml.NVMLError as exc:
                snap.error = f"GPU {index}: {exc}"
        return snap

    # ------------------------------------------------------------------ per device
    def _gpu(self, index: int) -> GpuInfo:
        pynvml = _nvml()
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        static = self._static.get(index)
        if static is None:
            cc = self._optional(lambda: pynvml.nvmlDeviceGetCudaComputeCapability(handle))
            static = self._static[index] = {
                "name": _text(pynvml.nvmlDeviceGetName(handle)),
                "uuid": self._optional(lambda: _text(pynvml.nvmlDeviceGetUUID(handle))) or "",
                "compute_cap": f"{cc[0]}.{cc[1]}" if cc else None,
                "power_limit": self._optional(
                    lambda: pynvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000.0
                ),
            }
        memory = self._memory(handle)
        util = self._optional(lambda: pynvml.nvmlDeviceGetUtilizationRates(handle))
        return GpuInfo(
            index=index,
            name=static["name"],
            uuid=static["uuid"],
            compute_cap=static["compute_cap"],
            memory_total_mib=round(memory.total / MIB, 1),
            memory_used_mib=round(memory.used / MIB, 1),
            memory_free_mib=round(memory.free / MIB, 1),
            utilization_gpu=util.gpu if util is not None else None,
            utilization_memory=util.memory if util is not None else None,
            temperature_gpu=self._optional(
                lambda: pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU)
            ),
            power_draw_w=self._optional(
                lambda: round(pynvml.nvmlDeviceGetPowerUsage(handle) / 1000.0, 1)
            ),
            power_limit_w=static["power_limit"],
            processes=self._processes(handle),
        )

    def _memory(self, handle: Any) -> Any:
        """``nvmlDeviceGetMemoryInfo`` v2 where the driver has it (``used`` then excludes the
        driver's reserved memory, as nvidia-smi shows it), else v1."""
        pynvml = _nvml()
        version = getattr(pynvml, "nvmlMemory_v2", None)
        if version is not None:
            try:
                return pynvml.nvmlDeviceGetMemoryInfo(handle, version=version)
            except (pynvml.NVMLError, TypeError):
                pass
        return pynvml.nvmlDeviceGetMemoryInfo(handle)

    def _processes(self, handle: Any) -> list[GpuProcess]:
        pynvml = _nvml()
        found: dict[int, GpuProcess] = {}
        for query in (
            pynvml.nvmlDeviceGetComputeRunningProcesses,
            pynvml.nvmlDeviceGetGraphicsRunningProcesses,
        ):
            for proc in self._optional(partial(query, handle)) or []:
                used = getattr(proc, "usedGpuMemory", None)
                mib = round(used / MIB, 1) if isinstance(used, int) and used < 2**63 else None
                if proc.pid not in found:
                    found[proc.pid] = GpuProcess(
                        pid=proc.pid, used_memory_mib=mib, name=process_name(proc.pid)
                    )
        return sorted(found.values(), key=lambda p: -(p.used_memory_mib or 0))

    def _cuda_driver_version(self) -> str:
        pynvml = _nvml()
        getter = (
            getattr(pynvml, "nvmlSystemGetCudaDriverVersion_v2", None)
            or pynvml.nvmlSystemGetCudaDriverVersion
        )
        version = getter()
        return f"{version // 1000}.{(version % 1000) // 10}"

    @staticmethod
    def _optional(read: Callable[[], T]) -> T | None:
        pynvml = _nvml()
        try:
            return read()
        except pynvml.NVMLError:
            return None


def process_name(pid: int, proc_root: str = "/proc") -> str | None:
    try:
        with open(f"{proc_root}/{pid}/comm", encoding="utf-8", errors="replace") as fh:
            return fh.read().strip() or None
    except OSError:
        return None


def read_snapshot() -> GpuSnapshot:
    """One reading: init, read, shutdown."""
    with NvmlSession() as session:
        return session.snapshot()
