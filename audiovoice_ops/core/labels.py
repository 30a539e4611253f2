"""Every label avops reads or writes, as named constants (like compose's pkg/api/labels.go).

avops writes Compose's own labels so that ``docker compose ps/logs/down`` and avops see the same
project, plus a few of its own under ``io.avops.*``.
"""

COMPOSE_PREFIX = "com.docker.compose"
PROJECT = f"{COMPOSE_PREFIX}.project"
SERVICE = f"{COMPOSE_PREFIX}.service"
CONTAINER_NUMBER = f"{COMPOSE_PREFIX}.container-number"
ONEOFF = f"{COMPOSE_PREFIX}.oneoff"
WORKING_DIR = f"{COMPOSE_PREFIX}.project.working_dir"
CONFIG_FILES = f"{COMPOSE_PREFIX}.project.config_files"
CONFIG_HASH = f"{COMPOSE_PREFIX}.config-hash"
VERSION = f"{COMPOSE_PREFIX}.version"
NETWORK = f"{COMPOSE_PREFIX}.network"
VOLUME = f"{COMPOSE_PREFIX}.volume"

AVOPS_PREFIX = "io.avops"
MANAGED_BY = f"{AVOPS_PREFIX}.managed-by"
# Set on images avops built, so cleanup removes exactly those and nothing merely named alike.
BUILT_FOR_PROJECT = f"{AVOPS_PREFIX}.built-for-project"
BUILT_FOR_SERVICE = f"{AVOPS_PREFIX}.built-for-service"
# The GPU a replica is pinned to (``0``, a UUID) or ``none`` (a CPU worker): what it was planned
# to get, shown by status even where ``--gpus off`` stripped the device request.
REPLICA_GPU = f"{AVOPS_PREFIX}.gpu"
# The host a remote worker (or its models volume) was added for: ``ssh://user@gpu-host``
# (``avops worker add``). Such a container is never one of the local stack's replicas.
WORKER_HOST = f"{AVOPS_PREFIX}.worker-host"

MANAGED_BY_VALUE = "avops"
# The compose version we claim in labels; compose v1/v2 only read it for display.
COMPOSE_VERSION_VALUE = "2.0.0"


def project_filter(project: str) -> str:
    """A Docker API ``label=`` filter value selecting one project's resources."""
    return f"{PROJECT}={project}"
