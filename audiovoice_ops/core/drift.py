"""Environment drift: what the compose file and ``.env`` say a container's environment is, against
what the running container really has.

The classic failure this catches: ``.env`` says ``LOW_VRAM=true`` but the container was restarted,
not recreated, so it still runs with ``false`` (``docker restart`` does not re-read ``env_file``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from audiovoice_ops.core.containers import ContainerView, env_to_dict

if TYPE_CHECKING:
    import docker

    from audiovoice_ops.core.project import Project

SECRET_MARKERS = ("PASSWORD", "TOKEN", "SECRET", "KEY")
MASK = "********"


def is_secret(key: str) -> bool:
    upper = key.upper()
    return any(marker in upper for marker in SECRET_MARKERS)


def mask(key: str, value: str | None, show_secrets: bool) -> str | None:
    if value is None or show_secrets or not is_secret(key):
        return value
    return MASK


@dataclass
class Drift:
    key: str
    expected: str | None  # None: the file does not set it (but the container has it)
    actual: str | None  # None: the container lacks it


@dataclass
class ServiceEnv:
    service: str
    container: str | None
    environment: dict[str, str]
    drift: list[Drift] = field(default_factory=list)
    # ``celery:2`` when the service has several containers (one worker per GPU): the restart
    # target that recreates this one only.
    target: str | None = None
    number: int | None = None  # the container's replica number (None: no container)

    @property
    def fix(self) -> str | None:
        if self.container is None:
            return f"avops rebuild --service {self.service}"
        return f"avops restart {self.target or self.service}" if self.drift else None


@dataclass
class EnvReport:
    project: str
    env_file: str
    services: list[ServiceEnv]

    @property
    def drifted(self) -> bool:
        return any(s.drift for s in self.services)

    def to_dict(self, show_secrets: bool = False) -> dict:
        def masked_service(s: ServiceEnv) -> dict:
            return {
                "service": s.service,
                "container": s.container,
                "replica": s.target,
                "environment": {k: mask(k, v, show_secrets) for k, v in s.environment.items()},
                "drift": [
                    {
                        **asdict(d),
                        "expected": mask(d.key, d.expected, show_secrets),
                        "actual": mask(d.key, d.actual, show_secrets),
                    }
                    for d in s.drift
                ],
                "fix": s.fix if s.drift else None,
            }

        return {
            "project": self.project,
            "env_file": self.env_file,
            "drift": self.drifted,
            "services": [masked_service(s) for s in self.services],
        }


def build_env_report(
    project: Project, services: list[str] | None = None, with_docker: bool = True
) -> EnvReport:
    """Effective environments; ``with_docker``, also the drift against the running containers."""
    stack = project.stack
    names = services or list(stack.services)
    client = project.client if with_docker else None
    inventory = project.inventory if with_docker else None
    image_env: dict[str, dict[str, str]] = {}
    report = EnvReport(project=stack.project, env_file=str(stack.env_file), services=[])
    for name in names:
        expected = stack.effective_environment(name)
        views = inventory.services.get(name, []) if inventory else []
        if not views:
            report.services.append(ServiceEnv(name, None, expected))
            continue
        for view in views:
            baseline = image_env.setdefault(view.image_id, _image_environment(client, view))
            drift = compare(expected, view.env, baseline)
            target = f"{name}:{view.number}" if len(views) > 1 else None
            report.services.append(
                ServiceEnv(name, view.name, expected, drift, target, view.number)
            )
    return report


def compare(
    expected: dict[str, str], actual: dict[str, str], image_env: dict[str, str]
) -> list[Drift]:
    """Keys that differ, are missing, or are set in the container but neither in the file nor by
    the image (left over from an older ``.env``)."""
    drift = [Drift(k, v, actual.get(k)) for k, v in expected.items() if actual.get(k) != v]
    for key, value in actual.items():
        if key not in expected and image_env.get(key) != value:
            drift.append(Drift(key, None, value))
    return sorted(drift, key=lambda d: d.key)


def _image_environment(client: docker.DockerClient, view: ContainerView) -> dict[str, str]:
    from docker.errors import NotFound

    try:
        attrs = client.api.inspect_image(view.image_id)
    except NotFound:
        return {}
    return env_to_dict((attrs.get("Config") or {}).get("Env") or [])
