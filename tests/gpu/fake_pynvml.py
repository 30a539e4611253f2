"""A stand-in ``pynvml`` module that replays a recorded snapshot through NVML's own API shape, so
``audiovoice_ops.gpu.nvml`` (the code that talks to NVML) runs unchanged in tests without a GPU.

Fields recorded as ``null`` raise ``NVMLError_NotSupported``, as NVML does for e.g. power on
some boards; ``init_error`` makes ``nvmlInit`` fail like a host without the driver.
"""

from __future__ import annotations

import json
import types
from pathlib import Path

MIB = 1024 * 1024
NVML_TEMPERATURE_GPU = 0


class NVMLError(Exception):
    def __init__(self, value: int = 999):
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return {
            3: "Not Supported",
            12: "NVML Shared Library Not Found",
            9: "Driver Not Loaded",
        }.get(self.value, "Unknown Error")


class NVMLError_NotSupported(NVMLError):
    def __init__(self):
        super().__init__(3)


class NVMLError_LibraryNotFound(NVMLError):
    def __init__(self):
        super().__init__(12)


class NVMLError_DriverNotLoaded(NVMLError):
    def __init__(self):
        super().__init__(9)


def build(
    snapshot_file: Path | None = None,
    init_error: type[NVMLError] | None = None,
    memory_v2: bool = True,
) -> types.ModuleType:
    data = json.loads(Path(snapshot_file).read_text()) if snapshot_file else {"gpus": []}
    gpus = data["gpus"]
    mod = types.ModuleType("pynvml")
    mod.NVMLError = NVMLError
    mod.NVMLError_NotSupported = NVMLError_NotSupported
    mod.NVMLError_LibraryNotFound = NVMLError_LibraryNotFound
    mod.NVMLError_DriverNotLoaded = NVMLError_DriverNotLoaded
    mod.NVML_TEMPERATURE_GPU = NVML_TEMPERATURE_GPU
    mod.calls = {"init": 0, "shutdown": 0, "memory_version": []}
    if memory_v2:
        mod.nvmlMemory_v2 = 0x02000028

    def value(v):
        if v is None:
            raise NVMLError_NotSupported()
        return v

    def init():
        mod.calls["init"] += 1
        if init_error is not None:
            raise init_error()

    def shutdown():
        mod.calls["shutdown"] += 1

    def memory(handle, version=None):
        mod.calls["memory_version"].append(version)
        g = gpus[handle]
        return types.SimpleNamespace(
            total=int(g["memory.total"] * MIB),
            used=int(g["memory.used"] * MIB),
            free=int(g["memory.free"] * MIB),
        )

    def processes(handle):
        return [
            types.SimpleNamespace(
                pid=p["pid"],
                usedGpuMemory=None if p["used_memory"] is None else int(p["used_memory"] * MIB),
            )
            for p in gpus[handle]["processes"]
        ]

    def util(handle):
        g = gpus[handle]
        value(g.get("utilization.gpu"))
        return types.SimpleNamespace(gpu=g["utilization.gpu"], memory=g["utilization.memory"])

    def cuda_version():
        major, minor = data["cuda_driver_version"].split(".")
        return int(major) * 1000 + int(minor) * 10

    mod.nvmlInit = init
    mod.nvmlShutdown = shutdown
    mod.nvmlDeviceGetCount = lambda: len(gpus)
    mod.nvmlSystemGetDriverVersion = lambda: data["driver_version"]
    mod.nvmlSystemGetNVMLVersion = lambda: value(data.get("nvml_version"))
    mod.nvmlSystemGetCudaDriverVersion_v2 = cuda_version
    mod.nvmlSystemGetCudaDriverVersion = cuda_version
    mod.nvmlDeviceGetHandleByIndex = lambda i: i
    mod.nvmlDeviceGetName = lambda h: gpus[h]["name"].encode()  # older bindings return bytes
    mod.nvmlDeviceGetUUID = lambda h: gpus[h]["uuid"]
    mod.nvmlDeviceGetCudaComputeCapability = lambda h: tuple(
        int(x) for x in value(gpus[h]["compute_cap"]).split(".")
    )
    mod.nvmlDeviceGetMemoryInfo = memory
    mod.nvmlDeviceGetUtilizationRates = util
    mod.nvmlDeviceGetTemperature = lambda h, sensor: value(gpus[h].get("temperature.gpu"))
    mod.nvmlDeviceGetPowerUsage = lambda h: int(value(gpus[h].get("power.draw")) * 1000)
    mod.nvmlDeviceGetEnforcedPowerLimit = lambda h: int(value(gpus[h].get("power.limit")) * 1000)
    mod.nvmlDeviceGetComputeRunningProcesses = processes
    mod.nvmlDeviceGetGraphicsRunningProcesses = lambda h: []
    return mod
