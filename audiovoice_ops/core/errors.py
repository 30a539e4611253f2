"""Typed errors. Each carries the exit code the CLI returns and a one-line fix.

The CLI turns any ``AvopsError`` into one red line plus a hint and exits with ``exit_code``; it never
prints a traceback for them.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Documented exit codes (README, "Exit codes")."""

    OK = 0
    CHECK_FAILED = (
        1  # an invariant, drift or health check failed: the command ran, the answer is "no"
    )
    USAGE = 2  # bad option or argument (click's own code)
    CONFIG = 3  # compose file or .env missing or invalid
    DOCKER_UNAVAILABLE = 4  # daemon unreachable or socket permission denied
    OPERATION_FAILED = 5  # build, start or wait failed
    LOCKED = 6  # another avops process is changing this project
    REFUSED = 7  # would touch resources that are not the project's (a squatter); --force overrides
    GPU_NO_DRIVER = 10  # check-gpu: no NVIDIA driver / NVML on the host
    GPU_ENGINE = 11  # check-gpu: the Docker Engine cannot hand a GPU to a container (no NVIDIA Container Toolkit)
    GPU_CONTAINER = (
        12  # check-gpu: the worker container cannot see the GPU (torch.cuda unavailable inside)
    )
    INTERRUPTED = 130  # Ctrl-C


class AvopsError(Exception):
    exit_code: ExitCode = ExitCode.OPERATION_FAILED

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(AvopsError):
    """The compose file, .env file or an option value is wrong."""

    exit_code = ExitCode.CONFIG


class UsageError(AvopsError):
    """A command-line argument names something that does not exist (``restart celery:9``)."""

    exit_code = ExitCode.USAGE


class ComposeFileError(ConfigError):
    pass


class EnvFileError(ConfigError):
    pass


class DockerUnavailable(AvopsError):
    exit_code = ExitCode.DOCKER_UNAVAILABLE


class InvalidDockerHost(DockerUnavailable):
    """DOCKER_HOST cannot be parsed: no engine can be reached, whatever the command degrades to."""


class OperationFailed(AvopsError):
    exit_code = ExitCode.OPERATION_FAILED


class ProjectLocked(AvopsError):
    exit_code = ExitCode.LOCKED


class Refused(AvopsError):
    exit_code = ExitCode.REFUSED


class BuildFailed(OperationFailed):
    """An image build failed; ``log_tail`` holds the last lines of the build output."""

    def __init__(self, message: str, log_tail: list[str], hint: str | None = None):
        super().__init__(message, hint)
        self.log_tail = log_tail


class WaitFailed(OperationFailed):
    """A container exited, became unhealthy or missed the deadline; ``logs`` holds its last lines."""

    def __init__(
        self, message: str, logs: str = "", probe_output: str | None = None, hint: str | None = None
    ):
        super().__init__(message, hint)
        self.logs = logs
        self.probe_output = probe_output


class GpuUnavailable(OperationFailed):
    pass
