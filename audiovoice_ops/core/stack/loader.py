"""Load a compose file into a ``Stack``: parse YAML, interpolate, validate, resolve paths.

Compose's rules: variables come from the shell environment, then the ``.env`` file; relative paths
(build context, env_file, bind mounts) are relative to the compose file's directory; the project
name is the option, else ``name:``, else the compose directory's name.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from pydantic import ValidationError

from audiovoice_ops.core.envfile import read_env_file
from audiovoice_ops.core.errors import ComposeFileError, ConfigError
from audiovoice_ops.core.interpolation import InterpolationError, interpolate_tree
from audiovoice_ops.core.stack.model import GPU_REPLICAS_KEY, ComposeFile, Service
from audiovoice_ops.core.stack.yamlfile import read_compose_yaml


@dataclass
class Stack:
    """A loaded, validated stack and everything needed to compute what its containers should be."""

    compose_file: Path
    env_file: Path
    project: str
    model: ComposeFile
    variables: dict[str, str] = field(
        repr=False
    )  # interpolation source: .env overlaid by the shell
    # Effective environments, computed once per service: creating a container needs it twice
    # (the container's env and its config-hash label), and each computation reads env files.
    _environments: dict[str, dict[str, str]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def project_dir(self) -> Path:
        return self.compose_file.parent

    @property
    def services(self) -> dict[str, Service]:
        return self.model.services

    def service(self, name: str) -> Service:
        try:
            return self.model.services[name]
        except KeyError:
            known = ", ".join(self.model.services)
            raise ComposeFileError(
                f"no service {name!r} in {self.compose_file}", hint=f"services: {known}"
            ) from None

    def resolve_path(self, relative: str) -> Path:
        return (self.project_dir / Path(relative).expanduser()).resolve()

    def effective_environment(self, name: str) -> dict[str, str]:
        """What the container's environment must contain: env_file values, then `environment:`."""
        if name not in self._environments:
            self._environments[name] = self._compute_environment(name)
        return dict(self._environments[name])

    def _compute_environment(self, name: str) -> dict[str, str]:
        service = self.service(name)
        env: dict[str, str] = {}
        for env_file in service.env_file:
            env.update(read_env_file(self.resolve_path(env_file), self.variables))
        for key, value in service.environment.items():
            if value is not None:
                env[key] = value
            elif key in self.variables:  # bare KEY: from the shell/.env, like Compose
                env[key] = self.variables[key]
        return env

    def config_hash(self, name: str, placement: str | None = None) -> str:
        """A stable digest of everything that defines the service's container; ``placement`` is a
        replica's own device (``gpu:0``, ``cpu``; core/replicas.py), None for a plain service."""
        payload: dict[str, object] = {
            "service": self.service(name).model_dump(mode="json"),
            "environment": self.effective_environment(name),
        }
        if placement is not None:
            payload["placement"] = placement
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    @cached_property
    def startup_order(self) -> list[str]:
        from audiovoice_ops.core.stack.dependencies import startup_order

        return startup_order(self.model)


def load_stack(
    compose_file: Path,
    env_file: Path,
    environ: Mapping[str, str],
    project_name: str | None = None,
    require_env_file: bool = False,
) -> Stack:
    compose_file = compose_file.expanduser().resolve()
    env_file = env_file.expanduser().resolve()
    raw = _read_yaml(compose_file)
    variables = _interpolation_variables(env_file, environ, require_env_file)
    try:
        data = interpolate_tree(_drop_extensions(raw), variables)
    except InterpolationError as exc:
        raise ComposeFileError(f"{compose_file}: {exc}") from None
    try:
        model = ComposeFile.model_validate(data)
    except ValidationError as exc:
        raise ComposeFileError(describe_validation_error(compose_file, exc)) from None
    project = project_name_for(project_name, model.name, compose_file.parent.name)
    return Stack(
        compose_file=compose_file,
        env_file=env_file,
        project=project,
        model=model,
        variables=variables,
    )


def _read_yaml(path: Path) -> dict:
    data = read_compose_yaml(path)
    if not isinstance(data, dict):
        raise ComposeFileError(f"{path}: expected a mapping with a `services:` key")
    return data


def _interpolation_variables(
    env_file: Path, environ: Mapping[str, str], required: bool
) -> dict[str, str]:
    if not env_file.is_file():
        if required:
            read_env_file(env_file)  # raises the "not found" error with its hint
        return dict(environ)
    # The shell wins over .env, as in Compose.
    return {**read_env_file(env_file, environ), **environ}


def _drop_extensions(data: dict) -> dict:
    """Remove ``x-*`` extension fields (top level and per service); they are for YAML anchors.
    The service key ``x-avops-gpus`` is kept: avops reads it (one container per GPU)."""
    cleaned = {k: v for k, v in data.items() if not str(k).startswith("x-")}
    services = cleaned.get("services")
    if isinstance(services, dict):
        cleaned["services"] = {
            name: (
                {
                    k: v
                    for k, v in svc.items()
                    if not str(k).startswith("x-") or k == GPU_REPLICAS_KEY
                }
                if isinstance(svc, dict)
                else svc
            )
            for name, svc in services.items()
        }
    return cleaned


PROJECT_NAME_RULE = (
    "must consist only of lowercase alphanumeric characters, hyphens, and underscores "
    "as well as start with a lowercase letter or digit"
)
_VALID_PROJECT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")


def project_name_for(given: str | None, declared: str | None, directory: str) -> str:
    """Compose's rule: a name given (-p, AVOPS_PROJECT_NAME) or declared (``name:``) must already be
    valid; only the directory name, which the user did not choose as a project name, is normalised."""
    for source, name in (("project name", given), ("compose file's name:", declared)):
        if name:
            return check_project_name(name, source)
    return normalize_project_name(directory)


def check_project_name(name: str, source: str = "project name") -> str:
    if not _VALID_PROJECT_NAME.fullmatch(name):
        raise ConfigError(f"invalid {source} {name!r}: {PROJECT_NAME_RULE}")
    return name


def normalize_project_name(name: str) -> str:
    """Compose's normalisation of a directory name: lowercase, drop other characters, no leading - or _."""
    normalized = re.sub(r"[^a-z0-9_-]", "", name.lower()).lstrip("_-")
    if not normalized:
        raise ConfigError(
            f"cannot derive a project name from the directory name {name!r}",
            hint=f"pass -p NAME; a project name {PROJECT_NAME_RULE}",
        )
    return normalized


def describe_validation_error(path: Path, exc: ValidationError) -> str:
    """One line naming the file, the service and the key of the first problem."""
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"] if not _is_type_tag(part)]
    if len(loc) >= 2 and loc[0] == "services":
        where, rest = f"service {loc[1]!r}", loc[2:]
    else:
        where, rest = "top level", loc
    key = ".".join(rest)
    if error["type"] == "extra_forbidden":
        return f"{path}: {where}: unsupported key {key!r}"
    if error["type"] == "missing":
        return f"{path}: {where}: missing required key {key!r}"
    message = error["msg"].removeprefix("Value error, ")
    return f"{path}: {where}: {key + ': ' if key else ''}{message}"


def _is_type_tag(part: object) -> bool:
    # pydantic adds union-member tags such as "list[str]" or "function-before[...]" to locations.
    return isinstance(part, str) and ("[" in part or part in ("int", "str", "literal['all']"))
