"""A command's project, like Compose's ``composeService`` and its convergence state.

``commands/`` builds one per command (``commands/common.py: open_project``) and hands it to
``core/``. It holds what the steps of a command share, so each is made or read once:

- the loaded stack (compose file + ``.env``);
- one Docker client, connected on first use with the one timeout policy
  (``core/dockerclient.py``); ``client_or_none`` for commands that also work without an engine;
- the observed inventory, read on first use and re-read only by ``refresh_inventory()`` (a step
  that changed the engine says so; the others share one reading);
- the worker and API services (``core/stack/roles.py``);
- the ``.env`` facts, LOW_VRAM among them (``core/envfacts.py``);
- the replica plan: one container per GPU for a service with ``x-avops-gpus``
  (``core/replicas.py``), resolved against NVML (or ``AVOPS_NVML_SNAPSHOT``) on first use.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from audiovoice_ops.core.envfacts import EnvFacts
from audiovoice_ops.core.errors import DockerUnavailable
from audiovoice_ops.core.stack.roles import api_service, worker_service

if TYPE_CHECKING:
    import docker

    from audiovoice_ops.core.inventory import Inventory
    from audiovoice_ops.core.replicas import ReplicaPlan
    from audiovoice_ops.core.stack import Stack
    from audiovoice_ops.gpu.types import GpuSnapshot


class Project:
    def __init__(
        self,
        stack: Stack,
        *,
        docker_host: str | None = None,
        environ: Mapping[str, str] | None = None,
        worker: str | None = None,
        client: docker.DockerClient | None = None,
        nvml_snapshot: Path | None = None,
    ):
        self.stack = stack
        self.docker_host = docker_host
        self.environ = environ if environ is not None else stack.variables
        self.worker = worker_service(stack, worker)  # an unknown explicit name fails here, clearly
        self.api = api_service(stack)
        self.docker_error: str | None = None  # why client_or_none() found no engine
        self._client = client
        self._inventory: Inventory | None = None
        self._env: EnvFacts | None = None
        self.nvml_snapshot = nvml_snapshot  # a recorded reading instead of NVML (tests, demos)
        self._replicas: ReplicaPlan | None = None

    @classmethod
    def attach(cls, client: docker.DockerClient, stack: Stack) -> Project:
        """A project around an existing client: for the ``(client, stack)`` functions kept while
        their callers move to the Project."""
        return cls(stack, client=client)

    @property
    def name(self) -> str:
        return self.stack.project

    # ------------------------------------------------------------------ engine
    @property
    def client(self) -> docker.DockerClient:
        """The command's one Docker client; ``DockerUnavailable`` (exit 3/4) when no engine answers."""
        if self._client is None:
            from audiovoice_ops.core.dockerclient import connect

            self._client = connect(self.docker_host)
        return self._client

    def connect(self) -> Project:
        """Connect now rather than on first use (before a lock: no engine, no waiting for it)."""
        _ = self.client
        return self

    def client_or_none(self) -> docker.DockerClient | None:
        """The client, or None with ``docker_error`` set: for checks that report a missing engine."""
        try:
            return self.client
        except DockerUnavailable as exc:
            self.docker_error = exc.message
            return None

    @property
    def inventory(self) -> Inventory:
        """What the engine holds for the project, as last read (read on first use)."""
        if self._inventory is None:
            return self.refresh_inventory()
        return self._inventory

    def refresh_inventory(self) -> Inventory:
        """Read the engine again: call it after a step that created or removed containers."""
        from audiovoice_ops.core.inventory import read_inventory

        self._inventory = read_inventory(self)
        return self._inventory

    # ------------------------------------------------------------------ files
    @property
    def env(self) -> EnvFacts:
        """The stack's ``.env`` facts, read once."""
        if self._env is None:
            self._env = EnvFacts.read(self.stack.env_file, self.environ)
        return self._env

    # ------------------------------------------------------------------ replicas
    @property
    def replicas(self) -> ReplicaPlan:
        """Each service's replicas (one per GPU for ``x-avops-gpus``), resolved once."""
        if self._replicas is None:
            from audiovoice_ops.core.replicas import plan_replicas

            self._replicas = plan_replicas(self.stack, self.read_gpus)
        return self._replicas

    def read_gpus(self) -> GpuSnapshot:
        """The host's GPUs: the recorded snapshot when one is set, else NVML (no driver: a
        snapshot that says so)."""
        if self.nvml_snapshot is not None:
            from audiovoice_ops.gpu.types import load_snapshot

            return load_snapshot(self.nvml_snapshot)
        from audiovoice_ops.gpu.nvml import read_snapshot

        return read_snapshot()
