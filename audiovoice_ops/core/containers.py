"""A read-only view of one container (thin, like docker-py's models), built from its inspect data."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from audiovoice_ops.core import labels as L


@dataclass
class ContainerView:
    id: str
    name: str
    labels: dict[str, str]
    state: str  # created | running | paused | restarting | removing | exited | dead
    health: (
        str | None
    )  # starting | healthy | unhealthy | None when the container has no healthcheck
    health_output: str | None  # output of the last health probe
    exit_code: int | None
    image: str
    image_id: str
    started_at: datetime | None
    env: dict[str, str] = field(repr=False)
    gpu: bool = False
    # What the device requests grant: their device ids, "all" for a count of -1 (the whole host).
    gpu_devices: list[str] = field(default_factory=list)
    user: str = ""  # Config.User: "" means the image's default, root unless the image sets USER

    @property
    def project(self) -> str | None:
        return self.labels.get(L.PROJECT)

    @property
    def service(self) -> str | None:
        return self.labels.get(L.SERVICE)

    @property
    def oneoff(self) -> bool:
        return self.labels.get(L.ONEOFF, "False").lower() == "true"

    @property
    def number(self) -> int:
        try:
            return int(self.labels.get(L.CONTAINER_NUMBER, "1"))
        except ValueError:
            return 1

    @property
    def planned_gpu(self) -> str | None:
        """The GPU avops pinned this replica to (``none``: a CPU worker); None: not a replica."""
        return self.labels.get(L.REPLICA_GPU)

    @property
    def running(self) -> bool:
        return self.state == "running"

    def uptime_seconds(self, now: datetime | None = None) -> float | None:
        if not self.running or self.started_at is None:
            return None
        now = now or datetime.now(timezone.utc)
        return max(0.0, (now - self.started_at).total_seconds())

    @classmethod
    def from_attrs(cls, attrs: dict) -> ContainerView:
        state = attrs.get("State") or {}
        config = attrs.get("Config") or {}
        health = state.get("Health") or {}
        log = health.get("Log") or []
        host_config = attrs.get("HostConfig") or {}
        return cls(
            id=attrs["Id"],
            name=attrs.get("Name", "").lstrip("/"),
            labels=config.get("Labels") or {},
            state=state.get("Status", "unknown"),
            health=health.get("Status") or None,
            health_output=(log[-1].get("Output") or "").strip() if log else None,
            exit_code=state.get("ExitCode"),
            image=config.get("Image", ""),
            image_id=attrs.get("Image", ""),
            started_at=parse_docker_time(state.get("StartedAt")),
            env=env_to_dict(config.get("Env") or []),
            gpu=bool(host_config.get("DeviceRequests")),
            gpu_devices=granted_devices(host_config.get("DeviceRequests") or []),
            user=config.get("User") or "",
        )


def granted_devices(requests: list[dict]) -> list[str]:
    devices: list[str] = []
    for request in requests:
        devices += request.get("DeviceIDs") or []
        if request.get("Count") == -1:
            devices.append("all")
        elif request.get("Count"):
            devices.append(f"{request['Count']} GPU(s)")
    return devices


def env_to_dict(entries: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for entry in entries:
        key, _, value = entry.partition("=")
        out[key] = value
    return out


_FRACTION = re.compile(r"\.(\d+)")


def parse_docker_time(text: str | None) -> datetime | None:
    """Docker timestamps carry nanoseconds; Python keeps microseconds. Zero time means never."""
    if not text or text.startswith("0001-01-01"):
        return None
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6], text.replace("Z", "+00:00"), count=1)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None
