"""Pydantic models of the Compose keys avops supports.

Every model forbids unknown keys: a key avops does not implement is an error naming the file,
service and key, never silently ignored. Short and long Compose syntaxes (lists or maps) are
normalised here, so the rest of avops sees one shape.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from audiovoice_ops.core.stack.durations import parse_duration


def _as_list(value: Any) -> Any:
    if value is None:
        return []
    return [value] if isinstance(value, (str, int)) else value


def _command(value: Any) -> Any:
    """``command``/``entrypoint``: a string is split like a shell would (Compose does this too)."""
    if isinstance(value, str):
        import shlex

        return shlex.split(value)
    return value


def _key_value_map(value: Any) -> Any:
    """``environment``/``labels``/``args``: ``[K=V, K]`` or ``{K: V}`` to ``{K: V or None}``."""
    if value is None:
        return {}
    if isinstance(value, list):
        pairs: dict[str, str | None] = {}
        for item in value:
            key, sep, val = str(item).partition("=")
            pairs[key] = val if sep else None
        return pairs
    if isinstance(value, dict):
        return {str(k): _scalar_to_str(v) for k, v in value.items()}
    return value


def _scalar_to_str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# The one service-level extension avops reads (the loader drops every other ``x-*`` key).
GPU_REPLICAS_KEY = "x-avops-gpus"

Duration = Annotated[float, BeforeValidator(parse_duration)]
Command = Annotated[list[str] | None, BeforeValidator(_command)]
KeyValues = Annotated[dict[str, str | None], BeforeValidator(_key_value_map)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Build(Strict):
    context: str = "."
    dockerfile: str | None = None
    args: KeyValues = Field(default_factory=dict)
    target: str | None = None
    labels: KeyValues = Field(default_factory=dict)
    network: str | None = None


class Healthcheck(Strict):
    test: list[str] | None = None
    interval: Duration | None = None
    timeout: Duration | None = None
    retries: int | None = None
    start_period: Duration | None = None
    disable: bool = False

    @field_validator("test", mode="before")
    @classmethod
    def _test(cls, value: Any) -> Any:
        # A plain string is CMD-SHELL, as in Compose.
        return ["CMD-SHELL", value] if isinstance(value, str) else value


class DeviceReservation(Strict):
    driver: str | None = None
    count: int | Literal["all"] | None = None
    device_ids: list[str] | None = None
    capabilities: list[str] = Field(default_factory=list)
    options: dict[str, str] = Field(default_factory=dict)


class Reservations(Strict):
    devices: list[DeviceReservation] = Field(default_factory=list)


class Resources(Strict):
    reservations: Reservations = Field(default_factory=Reservations)


class Deploy(Strict):
    resources: Resources = Field(default_factory=Resources)


class DependsOn(Strict):
    condition: Literal["service_started", "service_healthy", "service_completed_successfully"] = (
        "service_started"
    )
    restart: bool = False
    required: bool = True


class Port(Strict):
    """One published port (long syntax); the short ``[ip:]host:container[/proto]`` is parsed into it."""

    target: int
    published: int | None = None
    host_ip: str | None = None
    protocol: Literal["tcp", "udp"] = "tcp"

    @model_validator(mode="before")
    @classmethod
    def _short(cls, value: Any) -> Any:
        if isinstance(value, int):
            return {"target": value}
        if not isinstance(value, str):
            return value
        spec, _, proto = value.partition("/")
        parts = spec.rsplit(":", 2)
        out: dict[str, Any] = {"target": parts[-1], "protocol": proto or "tcp"}
        if len(parts) >= 2 and parts[-2]:
            out["published"] = parts[-2]
        if len(parts) == 3 and parts[0]:
            out["host_ip"] = parts[0].strip("[]")
        return out


class VolumeMount(Strict):
    """A service volume (long syntax); short ``src:dst[:mode]`` is parsed into it."""

    type: Literal["volume", "bind", "tmpfs"] = "volume"
    source: str | None = None
    target: str
    read_only: bool = False

    @model_validator(mode="before")
    @classmethod
    def _short(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        parts = value.split(":")
        if len(parts) == 1:  # anonymous volume
            return {"type": "volume", "target": parts[0]}
        source, target = parts[0], parts[1]
        mode = parts[2] if len(parts) > 2 else ""
        is_bind = source.startswith((".", "/", "~"))
        return {
            "type": "bind" if is_bind else "volume",
            "source": source,
            "target": target,
            "read_only": "ro" in mode.split(","),
        }


class ServiceNetwork(Strict):
    aliases: list[str] = Field(default_factory=list)


class Service(Strict):
    image: str | None = None
    build: Build | None = None
    container_name: str | None = None
    command: Command = None
    entrypoint: Command = None
    environment: KeyValues = Field(default_factory=dict)
    env_file: Annotated[list[str], BeforeValidator(_as_list)] = Field(default_factory=list)
    ports: list[Port] = Field(default_factory=list)
    volumes: list[VolumeMount] = Field(default_factory=list)
    depends_on: dict[str, DependsOn] = Field(default_factory=dict)
    healthcheck: Healthcheck | None = None
    deploy: Deploy | None = None
    restart: str | None = None
    labels: KeyValues = Field(default_factory=dict)
    networks: dict[str, ServiceNetwork] = Field(default_factory=dict)
    network_mode: str | None = None
    stop_grace_period: Duration | None = None
    stop_signal: str | None = None
    user: str | None = None
    working_dir: str | None = None
    init: bool | None = None
    read_only: bool | None = None
    security_opt: list[str] = Field(default_factory=list)
    cap_drop: list[str] = Field(default_factory=list)
    cap_add: list[str] = Field(default_factory=list)
    tmpfs: Annotated[list[str], BeforeValidator(_as_list)] = Field(default_factory=list)
    # ``x-avops-gpus: ${WORKER_GPUS:-all}``: one container per GPU (core/replicas.py). Compose
    # ignores it; it stays out of the config hash, which gets each replica's own GPU instead.
    gpu_replicas: Annotated[str | None, BeforeValidator(_scalar_to_str)] = Field(
        None, alias=GPU_REPLICAS_KEY, exclude=True
    )

    @field_validator("build", mode="before")
    @classmethod
    def _build(cls, value: Any) -> Any:
        return {"context": value} if isinstance(value, str) else value

    @field_validator("depends_on", "networks", mode="before")
    @classmethod
    def _list_to_map(cls, value: Any) -> Any:
        if isinstance(value, list):
            return {str(name): {} for name in value}
        if isinstance(value, dict):
            return {k: (v or {}) for k, v in value.items()}
        return value

    @field_validator("restart")
    @classmethod
    def _restart(cls, value: str | None) -> str | None:
        if value is None:
            return value
        name = value.split(":", 1)[0]
        if name not in ("no", "always", "on-failure", "unless-stopped"):
            raise ValueError(
                f"invalid restart policy {value!r} (no, always, on-failure[:N], unless-stopped)"
            )
        return value

    @model_validator(mode="after")
    def _image_or_build(self) -> Service:
        if not self.image and not self.build:
            raise ValueError("needs `image` or `build`")
        if self.network_mode and self.networks:
            raise ValueError("`network_mode` and `networks` cannot be combined")
        return self

    @property
    def gpu_devices(self) -> list[DeviceReservation]:
        return self.deploy.resources.reservations.devices if self.deploy else []


class TopLevelVolume(Strict):
    name: str | None = None
    external: bool = False
    driver: str | None = None
    driver_opts: dict[str, str] = Field(default_factory=dict)
    labels: KeyValues = Field(default_factory=dict)


class TopLevelNetwork(Strict):
    name: str | None = None
    external: bool = False
    driver: str | None = None
    labels: KeyValues = Field(default_factory=dict)


def _none_to_empty(value: Any) -> Any:
    return {k: (v or {}) for k, v in value.items()} if isinstance(value, dict) else value


class ComposeFile(Strict):
    # Compose extension fields (``x-*``) are allowed at the top level and dropped by the loader.
    version: str | None = (
        None  # obsolete in the Compose spec; accepted and ignored like `docker compose`
    )
    name: str | None = None
    services: dict[str, Service]
    volumes: Annotated[dict[str, TopLevelVolume], BeforeValidator(_none_to_empty)] = Field(
        default_factory=dict
    )
    networks: Annotated[dict[str, TopLevelNetwork], BeforeValidator(_none_to_empty)] = Field(
        default_factory=dict
    )

    @model_validator(mode="after")
    def _references(self) -> ComposeFile:
        for name, service in self.services.items():
            for dep in service.depends_on:
                if dep not in self.services:
                    raise ValueError(f"service {name!r} depends on undefined service {dep!r}")
            for net in service.networks:
                if net != "default" and net not in self.networks:
                    raise ValueError(f"service {name!r} uses undefined network {net!r}")
            for mount in service.volumes:
                if mount.type == "volume" and mount.source and mount.source not in self.volumes:
                    raise ValueError(f"service {name!r} uses undefined volume {mount.source!r}")
        return self
