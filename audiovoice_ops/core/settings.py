"""avops configuration: the one place that reads environment variables.

Precedence, highest first: command-line option, ``AVOPS_*`` environment variable, default.
``DOCKER_HOST`` is honoured (``unix://``, ``tcp://``, ``ssh://user@gpu-host``) so one avops can
drive a remote GPU host.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from audiovoice_ops.core.errors import ConfigError

GpuMode = Literal["auto", "on", "off"]


class AvopsSettings(BaseSettings):
    # An empty variable (AVOPS_NVML_SNAPSHOT=) means "not set", as for DOCKER_HOST in the docker CLI;
    # otherwise an empty path reads as "." and an empty name as invalid.
    model_config = SettingsConfigDict(
        env_prefix="AVOPS_", extra="ignore", populate_by_name=True, env_ignore_empty=True
    )

    compose_file: Path = Field(Path("docker/compose.yml"), description="Compose file of the stack")
    env_file: Path = Field(Path(".env"), description="The stack's .env file")
    project_name: str | None = Field(None, description="Overrides the compose file's `name:`")
    gpus: GpuMode = Field("auto", description="GPU reservations: auto (fall back to CPU), on, off")
    timeout: float = Field(300.0, gt=0, description="Seconds to wait for health")
    docker_host: str | None = Field(
        None,
        validation_alias=AliasChoices("AVOPS_DOCKER_HOST", "DOCKER_HOST"),
        description="Docker Engine address; default: the local socket",
    )
    api_url: str = Field(
        "http://127.0.0.1:8005",
        description="Base URL of the audio-voice API (/health, /admin/vram)",
    )
    api_key: str | None = Field(
        None,
        description="API key sent as `Authorization: Bearer` to /admin/vram and /health; "
        "default: the first ADMIN_API_KEYS entry of the stack's .env",
    )
    api_timeout: float = Field(3.0, gt=0, description="Seconds to wait for an API answer")
    nvml_snapshot: Path | None = Field(
        None,
        description="Read GPU data from a recorded JSON snapshot instead of NVML (tests, demos)",
    )


def load_settings(**overrides: Any) -> AvopsSettings:
    """Settings from the environment, with command-line overrides that are not None (any type:
    pydantic validates each against its field, a bad one is a ConfigError)."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        settings = AvopsSettings(**given)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "?"
        name = field if field.isupper() else f"AVOPS_{field.upper()}"
        raise ConfigError(
            f"invalid setting {name}={error.get('input')!r}: {error['msg']}"
        ) from None
    if settings.docker_host:
        # Every command fails the same way (exit 4), including those that work without an engine.
        from audiovoice_ops.core.dockerclient import check_docker_host

        check_docker_host(settings.docker_host)
    return settings


def process_environment() -> dict[str, str]:
    """The shell environment, used for Compose interpolation (``${VAR}``), which by Compose's
    rules sees every variable, not only ``AVOPS_*`` ones."""
    return dict(os.environ)
