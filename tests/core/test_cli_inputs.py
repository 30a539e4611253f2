"""CLI inputs a user gets wrong: DOCKER_HOST, project names, empty settings, Ctrl-C at start-up."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from audiovoice_ops.core.errors import ConfigError, ExitCode
from audiovoice_ops.core.settings import load_settings
from audiovoice_ops.core.stack.loader import PROJECT_NAME_RULE, load_stack
from tests.core.test_errors_cli import assert_clean_error, env_for
from tests.support.dockerenv import REPO_ROOT, run_avops

COMMANDS = [
    ["status"],
    ["env"],
    ["env", "--no-docker"],
    ["cleanup", "--dry-run"],
    ["rebuild"],
    ["restart"],
    ["logs"],
    ["check-gpu"],
    ["vram"],
    ["doctor"],
]
BAD_HOSTS = ["tcp://127.0.0.1:99999", "tcp://[::1", "garbage", "ssh://", "tcp://127.0.0.1:notaport"]


# Every command with one bad host each (rotating), and every bad host with `status`.
CASES = [(command, BAD_HOSTS[i % len(BAD_HOSTS)]) for i, command in enumerate(COMMANDS)] + [
    (["status"], host) for host in BAD_HOSTS[1:]
]


@pytest.mark.parametrize(
    "command, host", CASES, ids=lambda c: " ".join(c) if isinstance(c, list) else c
)
def test_bad_docker_host_is_exit_4_in_every_command(stack_dir, command, host):
    result = run_avops(*command, env=env_for(stack_dir, DOCKER_HOST=host), timeout=60)
    assert_clean_error(
        result, ExitCode.DOCKER_UNAVAILABLE, f"invalid DOCKER_HOST {host!r}", "hint:"
    )
    assert len(result.stderr.strip().splitlines()) == 2, result.stderr


def test_bad_docker_host_json_reports_the_code(stack_dir):
    import json

    result = run_avops("status", "--json", env=env_for(stack_dir, DOCKER_HOST="tcp://[::1"))
    assert result.returncode == ExitCode.DOCKER_UNAVAILABLE
    assert json.loads(result.stdout)["exit_code"] == ExitCode.DOCKER_UNAVAILABLE


def test_empty_docker_host_means_the_default(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "")
    assert load_settings().docker_host is None


# --- project names (Compose's rule) -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["BAD NAME!", "Upper", "-leading", "_leading", "a.b", "ü"])
def test_invalid_project_name_option_is_rejected_with_the_rule(stack_dir, name):
    result = run_avops("-p", name, "env", "--no-docker", env=env_for(stack_dir))
    assert_clean_error(result, ExitCode.CONFIG, f"invalid project name {name!r}", PROJECT_NAME_RULE)


def test_invalid_name_key_is_rejected(tmp_path):
    compose = tmp_path / "compose.yml"
    compose.write_text("name: My Stack\nservices: {}\n")
    with pytest.raises(ConfigError, match="invalid compose file's name: 'My Stack'"):
        load_stack(compose, tmp_path / ".env", {})


@pytest.mark.parametrize("name", ["a", "0stack", "my_stack-2"])
def test_valid_project_names_are_kept(tmp_path, name):
    compose = tmp_path / "compose.yml"
    compose.write_text("services: {}\n")
    assert load_stack(compose, tmp_path / ".env", {}, project_name=name).project == name
    compose.write_text(f"name: {name}\nservices: {{}}\n")
    assert load_stack(compose, tmp_path / ".env", {}).project == name


def test_option_wins_over_name_key_and_directory(tmp_path):
    compose = tmp_path / "compose.yml"
    compose.write_text("name: fromfile\nservices: {}\n")
    assert (
        load_stack(compose, tmp_path / ".env", {}, project_name="fromoption").project
        == "fromoption"
    )
    assert load_stack(compose, tmp_path / ".env", {}).project == "fromfile"


@pytest.mark.parametrize(
    "directory, project", [("My Stack", "mystack"), ("__x.Y-1", "xy-1"), ("AB_c", "ab_c")]
)
def test_directory_name_is_normalised(tmp_path, directory, project):
    compose = tmp_path / directory / "compose.yml"
    compose.parent.mkdir()
    compose.write_text("services: {}\n")
    assert load_stack(compose, tmp_path / ".env", {}).project == project


def test_directory_name_with_nothing_left_after_normalising(tmp_path):
    compose = tmp_path / "---" / "compose.yml"
    compose.parent.mkdir()
    compose.write_text("services: {}\n")
    with pytest.raises(
        ConfigError, match="cannot derive a project name from the directory name '---'"
    ):
        load_stack(compose, tmp_path / ".env", {})


# --- empty settings mean "not set" ------------------------------------------------------------------


def test_empty_nvml_snapshot_is_unset(monkeypatch):
    monkeypatch.setenv("AVOPS_NVML_SNAPSHOT", "")
    assert load_settings().nvml_snapshot is None


def test_empty_nvml_snapshot_in_the_cli_is_not_the_current_directory(stack_dir):
    # Read as the path ".", the snapshot loader failed on a directory (exit 3); unset, vram reads
    # NVML like with no variable at all.
    unset = run_avops("vram", "--no-api", env=env_for(stack_dir), timeout=60)
    empty = run_avops(
        "vram", "--no-api", env=env_for(stack_dir, AVOPS_NVML_SNAPSHOT=""), timeout=60
    )
    assert "Traceback" not in empty.stderr
    assert empty.returncode == unset.returncode != ExitCode.CONFIG, empty.stderr
    assert "snapshot" not in empty.stderr + empty.stdout


@pytest.mark.parametrize(
    "variable, field, default",
    [
        ("AVOPS_COMPOSE_FILE", "compose_file", Path("docker/compose.yml")),
        ("AVOPS_ENV_FILE", "env_file", Path(".env")),
        ("AVOPS_PROJECT_NAME", "project_name", None),
    ],
)
def test_other_empty_settings_take_their_default(monkeypatch, variable, field, default):
    monkeypatch.setenv(variable, "")
    assert getattr(load_settings(), field) == default


# --- Ctrl-C during start-up ---------------------------------------------------------------------------

# The installed console script, run once the interpreter itself is up: Python's own start-up
# (``site``, ~0.1 s here) runs before any avops code and is outside what avops can guard; from the
# wrapper's first line on, a Ctrl-C must end quietly. The child prints "R" when it gets there.
RUN_WRAPPER = (
    "import os, pkgutil, runpy, sys; os.write(1, b'R'); sys.argv = [sys.argv[1], 'env', '--no-docker'];"
    "runpy.run_path(sys.argv[0], run_name='__main__')"
)


def console_script() -> str:
    script = Path(sys.executable).with_name("avops")
    if not script.exists():
        pytest.skip(f"no console script at {script} (pip install -e . makes it)")
    return str(script)


@pytest.mark.parametrize("delay", [0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5])
def test_ctrl_c_during_startup_exits_130_quietly(stack_dir, delay):
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN_WRAPPER, console_script()],
        env=env_for(stack_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )
    assert proc.stdout.read(1) == "R"
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    if proc.returncode == -signal.SIGINT:
        # The command had finished and the interpreter was shutting down, which restores the
        # default SIGINT action: only acceptable once the whole output was written.
        assert "LOW_VRAM" in out, (out, err)
    elif proc.returncode != 0:  # 0: it finished before the signal came
        assert proc.returncode == ExitCode.INTERRUPTED, (proc.returncode, err)
        assert err.strip() == "error: interrupted", err


def test_ctrl_c_while_importing_the_app(stack_dir):
    """Deterministic: the interrupt is raised inside the app's import, where the race lands."""
    code = (
        "import signal, sys, builtins\n"
        "real = builtins.__import__\n"
        "def interrupting(name, *a, **k):\n"
        "    if name == 'typer': raise KeyboardInterrupt\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = interrupting\n"
        "sys.argv = ['avops', 'status']\n"
        "from audiovoice_ops.cli import main\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env_for(stack_dir),
        timeout=60,
    )
    assert result.returncode == ExitCode.INTERRUPTED, result.stderr
    assert result.stderr == "error: interrupted\n"
