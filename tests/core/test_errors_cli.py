"""Bad input and broken environments: one clear line, a documented exit code, never a traceback."""

from __future__ import annotations

import json

import pytest

from audiovoice_ops.core.errors import ExitCode
from tests.support.dockerenv import run_avops


def env_for(stack_dir, **extra):
    import os

    return {
        **os.environ,
        "AVOPS_COMPOSE_FILE": str(stack_dir / "compose.yml"),
        "AVOPS_ENV_FILE": str(stack_dir / ".env"),
        "AVOPS_PROJECT_NAME": "avterr",
        **extra,
    }


def assert_clean_error(result, code, *needles):
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    for needle in needles:
        assert needle in result.stderr, result.stderr


def test_daemon_unreachable(stack_dir):
    result = run_avops(
        "status", env=env_for(stack_dir, DOCKER_HOST="unix:///tmp/avops-no-such.sock")
    )
    assert_clean_error(
        result, ExitCode.DOCKER_UNAVAILABLE, "cannot reach the Docker daemon", "hint:"
    )


def test_daemon_unreachable_json(stack_dir):
    result = run_avops(
        "status", "--json", env=env_for(stack_dir, DOCKER_HOST="unix:///tmp/avops-no-such.sock")
    )
    assert result.returncode == ExitCode.DOCKER_UNAVAILABLE
    assert json.loads(result.stdout)["exit_code"] == ExitCode.DOCKER_UNAVAILABLE


def test_permission_denied_on_socket(stack_dir, tmp_path):
    import os
    import shutil
    import socket
    import subprocess
    import sys

    path = tmp_path / "locked.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen()
    path.chmod(0)
    command = [sys.executable, "-m", "audiovoice_ops", "status"]
    if os.geteuid() == 0:
        # root ignores file modes through CAP_DAC_OVERRIDE: drop it (and DAC_READ_SEARCH) for the CLI.
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without util-linux's setpriv to drop CAP_DAC_OVERRIDE")
        caps = "-dac_override,-dac_read_search"
        command = ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}", "--", *command]
    try:
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=60,
            env=env_for(stack_dir, DOCKER_HOST=f"unix://{path}"),
        )
    finally:
        server.close()
    assert_clean_error(result, ExitCode.DOCKER_UNAVAILABLE, "permission denied", "docker group")


def test_missing_compose_file(tmp_path):
    import os

    env = {**os.environ, "AVOPS_COMPOSE_FILE": str(tmp_path / "nope.yml")}
    result = run_avops("status", env=env)
    assert_clean_error(result, ExitCode.CONFIG, "compose file not found", "--file")


def test_unsupported_key_names_file_service_and_key(stack_dir):
    compose = stack_dir / "compose.yml"
    compose.write_text(
        compose.read_text().replace("    stop_grace_period: 2s\n", "    privileged: true\n", 1)
    )
    result = run_avops("env", "--no-docker", env=env_for(stack_dir))
    assert_clean_error(
        result, ExitCode.CONFIG, str(compose), "service 'db'", "unsupported key 'privileged'"
    )


def test_invalid_yaml_names_the_line(stack_dir):
    compose = stack_dir / "compose.yml"
    compose.write_text("services:\n  a:\n    image: [unclosed\n")
    result = run_avops("env", "--no-docker", env=env_for(stack_dir))
    assert_clean_error(result, ExitCode.CONFIG, "invalid YAML")


def test_required_variable_missing(stack_dir):
    (stack_dir / ".env").write_text("F5TTS_DEVICE=auto\n")
    result = run_avops("env", "--no-docker", env={**env_for(stack_dir), "LOW_VRAM": ""})
    assert_clean_error(result, ExitCode.CONFIG, "LOW_VRAM", "set LOW_VRAM in .env")


def test_malformed_env_line_reports_line_number(stack_dir):
    (stack_dir / ".env").write_text("LOW_VRAM=true\n# ok\nthis is not an assignment\n")
    result = run_avops("env", "--no-docker", env=env_for(stack_dir))
    assert_clean_error(result, ExitCode.CONFIG, ".env:3", "malformed line")


def test_missing_env_file(stack_dir):
    (stack_dir / ".env").unlink()
    result = run_avops("env", "--no-docker", env={**env_for(stack_dir), "LOW_VRAM": "true"})
    assert_clean_error(result, ExitCode.CONFIG, "env file not found", "cp .env.example .env")


def test_unknown_service(stack_dir):
    result = run_avops("env", "--no-docker", "nosuch", env=env_for(stack_dir))
    assert_clean_error(result, ExitCode.CONFIG, "no service 'nosuch'", "services: db, worker")


def test_bad_option_value_is_usage_error(stack_dir):
    result = run_avops("status", env=env_for(stack_dir, AVOPS_GPUS="maybe"))
    assert result.returncode == ExitCode.CONFIG
    assert "Traceback" not in result.stderr
    assert "AVOPS_GPUS" in result.stderr
