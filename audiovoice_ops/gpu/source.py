"""Where GPU readings come from: NVML, or a recorded snapshot file (``AVOPS_NVML_SNAPSHOT``, for
tests and demos). Either way each reading gets its processes mapped to containers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

from audiovoice_ops.gpu.containers import ContainerResolver
from audiovoice_ops.gpu.types import GpuSnapshot, load_snapshot

if TYPE_CHECKING:
    import docker

    from audiovoice_ops.gpu.nvml import NvmlSession


class GpuSource:
    def __init__(
        self,
        snapshot_file: Path | None = None,
        client: docker.DockerClient | None = None,
        proc_root: str = "/proc",
    ):
        self.snapshot_file = snapshot_file
        self.resolver = ContainerResolver(client, proc_root)
        self._session: NvmlSession | None = None
        if snapshot_file is None:
            from audiovoice_ops.gpu.nvml import NvmlSession

            self._session = NvmlSession()
            self._session.start()

    def read(self) -> GpuSnapshot:
        if self.snapshot_file is not None:
            import time

            snap = load_snapshot(self.snapshot_file)
            snap.timestamp = snap.timestamp or time.time()
        else:
            # __init__ opened a session: there is no snapshot file.
            snap = cast("NvmlSession", self._session).snapshot()
        return self.resolver.annotate(snap)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()

    def __enter__(self) -> GpuSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def optional_docker(settings) -> docker.DockerClient | None:
    """A Docker client, or None when no engine answers (GPU views still work without names).

    For commands without a stack; those with one use ``Project.client_or_none()``."""
    from audiovoice_ops.core.dockerclient import connect
    from audiovoice_ops.core.errors import DockerUnavailable

    try:
        return connect(settings.docker_host)
    except DockerUnavailable:
        return None
