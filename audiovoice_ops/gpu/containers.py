"""Which container a GPU process belongs to.

NVML reports host PIDs. ``/proc/<pid>/cgroup`` names the container's cgroup, which holds its
64-hex id under every cgroup layout Docker uses (v1 ``/docker/<id>``, v2 systemd
``/system.slice/docker-<id>.scope``, cgroupfs ``/docker/<id>``, rootless and k8s-style nested
paths); the Docker API turns the id into a name and a compose service. When ``/proc`` cannot tell
(a process already gone, another PID namespace), the running containers' ``top`` lists are asked.

``ContainerResolver`` caches both, so a watch loop pays for a Docker call only when a new PID or a
new container appears.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from audiovoice_ops.core import labels as L
from audiovoice_ops.gpu.types import GpuProcess, GpuSnapshot

if TYPE_CHECKING:
    import docker

CONTAINER_ID = re.compile(r"(?<![0-9a-f])([0-9a-f]{64})(?![0-9a-f])")


@dataclass(frozen=True)
class ContainerRef:
    id: str
    name: str
    service: str | None
    project: str | None


def container_id_from_cgroup(text: str) -> str | None:
    """The container id in a ``/proc/<pid>/cgroup`` file's text, or None (a host process).

    The last match wins: nested runtimes (a container inside a pod) put the innermost id last.
    """
    found = None
    for line in text.splitlines():
        path = line.split(":", 2)[-1]
        for match in CONTAINER_ID.finditer(path):
            found = match.group(1)
    return found


def container_id_of_pid(pid: int, proc_root: str = "/proc") -> str | None:
    try:
        with open(f"{proc_root}/{pid}/cgroup", encoding="utf-8", errors="replace") as fh:
            return container_id_from_cgroup(fh.read())
    except OSError:
        return None


class ContainerResolver:
    """pid -> ``ContainerRef`` with caches; ``client`` None: ids only, no names."""

    def __init__(self, client: docker.DockerClient | None, proc_root: str = "/proc"):
        self.client = client
        self.proc_root = proc_root
        self._by_id: dict[str, ContainerRef] = {}
        self._by_pid: dict[int, ContainerRef | None] = {}

    def resolve(self, pid: int) -> ContainerRef | None:
        if pid in self._by_pid:
            return self._by_pid[pid]
        ref = None
        container_id = container_id_of_pid(pid, self.proc_root)
        if container_id:
            ref = self._ref(container_id)
        elif self.client is not None:
            ref = self._from_top(self.client, pid)
        self._by_pid[pid] = ref
        return ref

    def annotate(self, snapshot: GpuSnapshot) -> GpuSnapshot:
        """Fill each process's container fields in place; forget PIDs that are gone."""
        live = {p.pid for p in snapshot.processes}
        for pid in [p for p in self._by_pid if p not in live]:
            del self._by_pid[pid]
        for proc in snapshot.processes:
            apply(proc, self.resolve(proc.pid))
        return snapshot

    def _ref(self, container_id: str) -> ContainerRef:
        if container_id in self._by_id:
            return self._by_id[container_id]
        ref = ContainerRef(id=container_id, name=container_id[:12], service=None, project=None)
        if self.client is not None:
            try:
                attrs = self.client.api.inspect_container(container_id)
                labels = (attrs.get("Config") or {}).get("Labels") or {}
                ref = ContainerRef(
                    id=container_id,
                    name=attrs.get("Name", "").lstrip("/") or ref.name,
                    service=labels.get(L.SERVICE),
                    project=labels.get(L.PROJECT),
                )
            except Exception:  # noqa: BLE001  (NotFound (gone), or the engine went away: keep the short id)
                pass
        self._by_id[container_id] = ref
        return ref

    def _from_top(self, client: docker.DockerClient, pid: int) -> ContainerRef | None:
        """Ask each running container for its host PIDs (``docker top``)."""
        try:
            running = client.api.containers()
        except Exception:  # noqa: BLE001  (the engine went away: the PID stays unattributed)
            return None
        for summary in running:
            try:
                top = client.api.top(summary["Id"])
            except Exception:  # noqa: BLE001  (the container stopped meanwhile: ask the next one)
                continue
            titles = [t.upper() for t in top.get("Titles") or []]
            column = titles.index("PID") if "PID" in titles else 0
            pids = {
                int(row[column]) for row in top.get("Processes") or [] if str(row[column]).isdigit()
            }
            if pid in pids:
                return self._ref(summary["Id"])
        return None


def apply(proc: GpuProcess, ref: ContainerRef | None) -> None:
    if ref is None:
        proc.container_id = proc.container = proc.service = None
    else:
        proc.container_id, proc.container, proc.service = ref.id[:12], ref.name, ref.service
