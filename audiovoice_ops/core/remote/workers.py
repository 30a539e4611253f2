"""Worker containers on another Docker Engine, made from the compose worker service.

Each remote worker is what the local worker service would be (``core/convergence.py``: image,
command, healthcheck, hardening, device requests; one container per GPU as ``core/replicas.py``
plans it), with what a host of its own needs instead:

- name ``<project>-<service>-<host slug>-N`` and hostname ``<host slug>-N``, so each Celery node
  (``--hostname=celery@%h``) names its host;
- the compose labels plus ``io.avops.worker-host=<url>``: add, rm and ls select by label only;
- the environment of the service's ``env_file``/``environment`` with ``REDIS_URL`` replaced and
  what a worker never uses and another host should not hold left out (``DATA_DIR``, the API keys);
- the named volumes but the data volume (workers are stateless; audio travels through Redis), on
  the remote engine: the models volume, kept by ``rm`` unless asked;
- no project network: the engine's default one (or the service's ``network_mode``); no ports;
- with a Redis CA (``--redis-ca``): a small volume holding it at ``/run/avops-tls/ca.pem``, which
  the URL's ``ssl_ca_certs`` names (written through the archive API before the first start).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from audiovoice_ops.core import labels as L
from audiovoice_ops.core.convergence import (
    container_labels,
    create_arguments,
    host_config,
    image_name,
)
from audiovoice_ops.core.errors import ConfigError, OperationFailed, UsageError
from audiovoice_ops.core.remote.hosts import host_slug
from audiovoice_ops.core.replicas import Replica, parse_selection, replicas_for, resolve_devices
from audiovoice_ops.core.resources import volume_name

if TYPE_CHECKING:
    import docker

    from audiovoice_ops.core.containers import ContainerView
    from audiovoice_ops.core.remote.hosts import WorkerHost
    from audiovoice_ops.core.remote.image import Progress
    from audiovoice_ops.core.stack import Stack

WORKER_HOST = L.WORKER_HOST
DEFAULT_DATA_DIR = "/data"
DEFAULT_STOP_S = 10  # Docker's own grace period, for a container created without one
# Not handed to a remote worker: the API's data directory, the API's secrets and Redis password
# (docker/compose.remote-redis.yml), this host's TLS directory, and the URL REDIS_URL replaces.
NOT_PASSED = (
    "DATA_DIR",
    "API_KEYS",
    "ADMIN_API_KEYS",
    "METRICS_TOKEN",
    "REDIS_API_PASSWORD",
    "REDIS_WORKER_PASSWORD",
    "REDIS_TLS_DIR",
    "WORKER_REDIS_URL",
)
TLS_VOLUME_KEY = "worker-tls"  # the remote volume holding the Redis CA
TLS_DIR = "/run/avops-tls"
CA_PATH = f"{TLS_DIR}/ca.pem"
GPUS_RULE = "all, none, or GPU indices/UUIDs separated by commas (0,1)"
TOOLKIT_HINT = (
    "install the NVIDIA Container Toolkit on the worker host (nvidia-ctk runtime configure "
    "--runtime=docker, then restart dockerd), or add it with --gpus none"
)


@dataclass(frozen=True)
class WorkerSpec:
    """One planned remote worker: its replica (GPU) and what is sent to the engine."""

    replica: Replica
    name: str
    arguments: dict[str, Any]

    @property
    def gpu(self) -> str:
        return gpu_text(self.replica)


@dataclass
class AddResult:
    url: str
    image: str
    image_sent: str | None  # missing | outdated | None (already there)
    bytes_sent: int
    workers: list[dict[str, str]] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class HostReport:
    url: str
    gpus: str
    error: str | None = None  # why the engine did not answer
    workers: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "gpus": self.gpus,
            "reachable": self.error is None,
            "error": self.error,
            "workers": self.workers,
        }


def gpu_text(replica: Replica) -> str:
    if replica.cpu:
        return "none"
    return replica.gpu if replica.gpu is not None else "all"


def plan_replicas(service: str, gpus: str) -> list[Replica]:
    """``--gpus`` as replicas: one per listed GPU, one CPU worker for ``none``, and for ``all``
    one worker with the file's reservation (every GPU: the remote host's NVML is not read)."""
    try:
        selection = parse_selection(gpus)
    except ConfigError as exc:
        raise UsageError(
            f"invalid --gpus {gpus!r}: {exc.message.partition(': ')[2]}",
            hint=f"--gpus is {GPUS_RULE}",
        ) from None
    devices, _ = resolve_devices(selection, lambda: None)
    return replicas_for(service, selection, devices)


def worker_service(stack: Stack, service: str | None) -> str:
    if service is None:
        raise ConfigError(
            f"{stack.compose_file} has no worker service (celery, worker, or one reserving a GPU)"
        )
    return service


def plan_workers(
    client: docker.DockerClient,
    stack: Stack,
    service: str,
    url: str,
    gpus: str,
    redis_url: str,
    with_gpus: bool = True,
    with_ca: bool = False,
) -> list[WorkerSpec]:
    """The containers ``worker add`` creates on ``client``'s engine (nothing is sent: tests
    inspect the device requests of a plan the engine here could not start). ``with_ca``: the
    Redis CA is on the TLS volume and the URL names it."""
    from audiovoice_ops.core.remote.redis import with_ca_path

    slug = host_slug(url)
    if with_ca:
        redis_url = with_ca_path(redis_url, CA_PATH)
    specs = []
    for replica in plan_replicas(service, gpus):
        name = f"{stack.project}-{service}-{slug}-{replica.number}"
        arguments = create_arguments(client, stack, replica, with_gpus)
        arguments.pop("networking_config", None)
        config = host_config(stack, service, with_gpus, replica)
        config.update(
            mounts=remote_mounts(stack, service, with_ca) or None,
            port_bindings=None,
            network_mode=stack.service(service).network_mode,
        )
        arguments.update(
            name=name,
            hostname=f"{slug}-{replica.number}",
            environment=remote_environment(stack, service, redis_url),
            labels={
                **container_labels(stack, service, replica.number, replica),
                L.REPLICA_GPU: gpu_text(replica),
                WORKER_HOST: url,
            },
            ports=None,
            host_config=client.api.create_host_config(**config),
        )
        specs.append(WorkerSpec(replica, name, arguments))
    return specs


def remote_environment(stack: Stack, service: str, redis_url: str) -> dict[str, str]:
    env = stack.effective_environment(service)
    for key in NOT_PASSED:
        env.pop(key, None)
    env["REDIS_URL"] = redis_url
    return env


def data_dir(stack: Stack, service: str) -> str:
    return stack.effective_environment(service).get("DATA_DIR") or DEFAULT_DATA_DIR


def remote_volume_keys(stack: Stack, service: str) -> list[str]:
    """The service's named volumes a remote worker keeps: all but the one on the data directory."""
    target = data_dir(stack, service)
    return [
        m.source
        for m in stack.service(service).volumes
        if m.type == "volume" and m.source and m.target != target
    ]


def remote_mounts(stack: Stack, service: str, with_ca: bool = False) -> list:
    from docker.types import Mount

    keys = set(remote_volume_keys(stack, service))
    tls = [Mount(target=TLS_DIR, source=volume_name(stack, TLS_VOLUME_KEY), type="volume")]
    return (tls if with_ca else []) + [
        Mount(
            target=m.target,
            source=volume_name(stack, m.source),
            type="volume",
            read_only=m.read_only,
        )
        for m in stack.service(service).volumes
        if m.type == "volume" and m.source in keys
    ]


def host_filters(project: str, url: str) -> dict[str, list[str]]:
    return {"label": [L.project_filter(project), f"{WORKER_HOST}={url}"]}


# ---------------------------------------------------------------------------------- add
def add_workers(
    local: docker.DockerClient,
    remote: docker.DockerClient,
    stack: Stack,
    service: str,
    url: str,
    gpus: str,
    redis_url: str,
    on_progress: Progress | None = None,
    ca_pem: bytes | None = None,
) -> AddResult:
    """Put ``url``'s workers in the planned state: image there, volumes there, the host's old
    workers replaced by the planned ones, started. A failed start removes what it created."""
    from audiovoice_ops.core.remote.image import ensure_image

    specs = plan_workers(remote, stack, service, url, gpus, redis_url, with_ca=ca_pem is not None)
    image = image_name(stack, service)
    sent_bytes = [0]

    def progress(sent: int, total: int, finished: bool) -> None:
        sent_bytes[0] = sent
        if on_progress:
            on_progress(sent, total, finished)

    why = ensure_image(local, remote, image, progress)
    ensure_remote_volumes(remote, stack, service, url, with_ca=ca_pem is not None)
    result = AddResult(url, image, why, sent_bytes[0] if why else 0)
    result.replaced = remove_containers(remote, stack.project, url)
    created: list[str] = []
    try:
        for spec in specs:
            created.append(remote.api.create_container(**spec.arguments)["Id"])
            if ca_pem is not None and len(created) == 1:  # one volume, shared by the workers
                put_ca(remote, created[0], ca_pem)
            remote.api.start(created[-1])
            result.workers.append({"name": spec.name, "gpu": spec.gpu, "id": created[-1][:12]})
    except Exception as exc:
        from docker.errors import APIError

        if not isinstance(exc, APIError):
            raise
        for container_id in created:
            _remove(remote, container_id)
        reason = exc.explanation or str(exc)
        gpu = "device driver" in str(reason) or "nvidia" in str(reason).lower()
        raise OperationFailed(
            f"cannot start the worker on {url}: {reason}", hint=TOOLKIT_HINT if gpu else None
        ) from None
    return result


def put_ca(client: docker.DockerClient, container_id: str, ca_pem: bytes) -> None:
    """Write the CA onto the TLS volume through ``container_id`` (created, not started: the
    archive API writes into a volume even under a read-only root filesystem)."""
    import io
    import tarfile

    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        entry = tarfile.TarInfo("ca.pem")
        entry.size, entry.mode = len(ca_pem), 0o644
        tar.addfile(entry, io.BytesIO(ca_pem))
    client.api.put_archive(container_id, TLS_DIR, archive.getvalue())


def ensure_remote_volumes(
    client: docker.DockerClient, stack: Stack, service: str, url: str, with_ca: bool = False
) -> list[str]:
    """Create the named volumes the remote workers mount (models, the CA); existing ones are kept."""
    from docker.errors import NotFound

    made = []
    for key in remote_volume_keys(stack, service) + ([TLS_VOLUME_KEY] if with_ca else []):
        name = volume_name(stack, key)
        try:
            client.api.inspect_volume(name)
            continue
        except NotFound:
            pass
        labels = {L.PROJECT: stack.project, L.VOLUME: key, L.VERSION: L.COMPOSE_VERSION_VALUE}
        client.api.create_volume(name, labels={**labels, WORKER_HOST: url})
        made.append(name)
    return made


# ---------------------------------------------------------------------------------- rm
def remove_containers(client: docker.DockerClient, project: str, url: str) -> list[str]:
    """Stop and remove the host's worker containers (selected by label only); their names.

    Stopped first within their own grace period (the service's ``stop_grace_period``): Celery's
    warm shutdown lets a running job finish, where a kill would leave it to the visibility
    timeout (an hour by default) before another worker gets it."""
    names = []
    for summary in client.api.containers(all=True, filters=host_filters(project, url)):
        _stop(client, summary["Id"])
        _remove(client, summary["Id"])
        names.append((summary.get("Names") or ["?"])[0].lstrip("/"))
    return sorted(names)


def _stop(client: docker.DockerClient, container_id: str) -> None:
    from docker.errors import NotFound

    try:
        config = client.api.inspect_container(container_id)["Config"]
        client.api.stop(container_id, timeout=int(config.get("StopTimeout") or DEFAULT_STOP_S))
    except NotFound:
        pass


def remove_volumes(client: docker.DockerClient, project: str, url: str) -> list[str]:
    """Remove the models volumes ``worker add`` made on the host (by label only)."""
    from docker.errors import APIError, NotFound

    removed = []
    for volume in client.api.volumes(filters=host_filters(project, url)).get("Volumes") or []:
        try:
            client.api.remove_volume(volume["Name"])
            removed.append(volume["Name"])
        except NotFound:
            continue
        except APIError as exc:
            raise OperationFailed(
                f"cannot remove volume {volume['Name']} on {url}: {exc.explanation or exc}"
            ) from None
    return sorted(removed)


def _remove(client: docker.DockerClient, container_id: str) -> None:
    from docker.errors import NotFound

    try:
        client.api.remove_container(container_id, force=True)
    except NotFound:
        pass


# ---------------------------------------------------------------------------------- ls
def host_workers(client: docker.DockerClient, project: str, url: str) -> list[ContainerView]:
    from docker.errors import NotFound

    from audiovoice_ops.core.containers import ContainerView

    views = []
    for summary in client.api.containers(all=True, filters=host_filters(project, url)):
        try:
            views.append(ContainerView.from_attrs(client.api.inspect_container(summary["Id"])))
        except NotFound:
            continue
    return sorted(views, key=lambda v: (v.number, v.name))


def worker_row(view: ContainerView) -> dict[str, Any]:
    return {
        "name": view.name,
        "state": view.state,
        "health": view.health,
        "gpu": view.planned_gpu or ",".join(view.gpu_devices) or "none",
        "image": view.image,
        "uptime_s": view.uptime_seconds(),
    }


def report_host(host: WorkerHost, project: str) -> HostReport:
    """One host's workers, or why its engine did not answer (never an exception for that)."""
    from audiovoice_ops.core.errors import DockerUnavailable

    report = HostReport(host.url, host.gpus)
    try:
        client = connect_host(host.url)
    except DockerUnavailable as exc:
        report.error = exc.message
        return report
    try:
        report.workers = [worker_row(v) for v in host_workers(client, project, host.url)]
    except Exception as exc:  # a request failing mid-way (ssh dropped): still a row
        from docker.errors import DockerException
        from requests.exceptions import RequestException

        if not isinstance(exc, (DockerException, RequestException)):
            raise
        report.error = " ".join(str(exc).split())[:200]
    finally:
        close_host(client)
    return report


# ---------------------------------------------------------------------------------- engine
def connect_host(url: str) -> docker.DockerClient:
    """The worker host's engine, through the project's ssh support (exit 4 when it does not answer)."""
    from audiovoice_ops.core.dockerclient import connect

    return connect(url)


def close_host(client: docker.DockerClient) -> None:
    """Close the client and its ssh bridge now (``ls`` visits many hosts)."""
    client.close()
    tunnel = getattr(client, "avops_tunnel", None)
    if tunnel is not None:
        tunnel.close()
