"""The Project: one Docker client per command (one timeout policy), one inventory reading per
step, and each shared fact (LOW_VRAM's spelling and reading, the GPU-size rule, the NVIDIA
toolkit failure) defined once.

The commands run in-process (Typer's runner on the real app) so the test can count what they do
on the real engine: a ``docker.DockerClient`` subclass records each construction and each
inventory listing (``containers`` filtered by the project label), then behaves as the real one.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import docker
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from audiovoice_ops.core import labels as L
from audiovoice_ops.core.dockerclient import REQUEST_TIMEOUT_S
from audiovoice_ops.core.envfile import parse_bool
from audiovoice_ops.core.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
SNAPSHOT = REPO / "tests" / "gpu" / "snapshots" / "one_gpu_processes.json"


class CountingClient(docker.DockerClient):
    made: list[CountingClient] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timeout = kwargs.get("timeout")
        self.inventory_reads = 0
        listing = self.api.containers

        def containers(*a, **kw):
            if L.PROJECT in str((kw.get("filters") or {}).get("label", "")):
                self.inventory_reads += 1
            return listing(*a, **kw)

        self.api.containers = containers
        CountingClient.made.append(self)


@pytest.fixture
def counted(monkeypatch):
    CountingClient.made = []
    monkeypatch.setattr(docker, "DockerClient", CountingClient)
    return CountingClient.made


def run(project, *args: str) -> dict:
    from audiovoice_ops.app import app

    env = {
        **project.cli_env(),
        "AVOPS_NVML_SNAPSHOT": str(SNAPSHOT),
        "AVOPS_API_URL": "http://127.0.0.1:9",
    }
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    assert "Traceback" not in result.output
    return json.loads(result.stdout) if "--json" in args else {}


@pytest.mark.docker
@pytest.mark.parametrize(
    "args",
    [
        ("status", "--json"),
        ("env", "--json"),
        ("logs",),
        ("doctor", "--no-api", "--json"),
        ("check-gpu", "--no-engine-probe", "--json"),
        ("cleanup", "--dry-run", "--json"),
    ],
)
def test_one_client_one_timeout_one_inventory_reading(project, counted, args):
    project.up()
    run(project, *args)
    assert len(counted) == 1, f"{args[0]} built {len(counted)} Docker clients"
    assert counted[0].timeout == REQUEST_TIMEOUT_S
    assert counted[0].inventory_reads == 1, (
        f"{args[0]} read the inventory {counted[0].inventory_reads} times"
    )


@pytest.mark.docker
def test_restart_reads_the_inventory_before_and_after(project, counted):
    project.up()
    report = run(project, "restart", "--json")
    assert report["ok"] and len(counted) == 1
    # once to plan the stop, once (refresh_inventory) for the final status
    assert counted[0].inventory_reads == 2


# ---------------------------------------------------------------------------- LOW_VRAM
def test_parse_bool_takes_the_workers_json_bool():
    """The worker's /admin/vram says ``"low_vram_mode": true``: the old avops rule took only strings."""
    assert parse_bool("LOW_VRAM", True) is True and parse_bool("LOW_VRAM", False) is False


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.sampled_from(
            [
                "true",
                " TRUE ",
                "1",
                "yes",
                "On",
                "false",
                "0",
                "NO",
                "off\n",
                "",
                "t",
                "y",
                "enabled",
                "2",
                "truee",
            ]
        ),
        st.text(max_size=8),
    )
)
def test_avops_and_the_worker_agree_on_every_spelling(value):
    from engines.settings import EngineConfigError, load_settings

    try:
        ours = parse_bool("LOW_VRAM", value)
    except ConfigError:
        ours = None
    try:
        theirs = load_settings(low_vram=value).low_vram
    except EngineConfigError:
        theirs = None
    assert ours == theirs


@pytest.mark.docker
def test_check_gpu_reads_low_vram_like_rebuild(project, monkeypatch):
    """A bare ``LOW_VRAM`` line takes the shell's value (Compose's rule); check-gpu used to read
    the file without the shell and call LOW_VRAM unset."""
    project.env_file.write_text(project.env_file.read_text().replace("LOW_VRAM=true", "LOW_VRAM"))
    monkeypatch.setenv("LOW_VRAM", "true")
    report = run(project, "check-gpu", "--no-engine-probe", "--json")
    assert report["recommendation"]["env_low_vram"] == "true"
    assert report["recommendation"]["status"] == "pass"


# ---------------------------------------------------------------------------- one definition each
def assignments(name: str) -> list[str]:
    """Files under audiovoice_ops/ and engines/ that assign ``name`` at module level."""
    found = []
    for path in [
        *REPO.joinpath("audiovoice_ops").rglob("*.py"),
        *REPO.joinpath("engines").rglob("*.py"),
    ]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            targets = (
                node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            )
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                found.append(str(path.relative_to(REPO)))
    return found


def literal_in(text: str) -> list[str]:
    return [
        str(p.relative_to(REPO))
        for p in [
            *REPO.joinpath("audiovoice_ops").rglob("*.py"),
            *REPO.joinpath("engines").rglob("*.py"),
        ]
        if text in p.read_text(encoding="utf-8")
    ]


def test_each_fact_is_defined_once():
    assert assignments("SMALL_GPU_GB") == ["engines/cuda_check.py"]
    assert assignments("FP16_MIN_CC") == ["engines/precision.py"]
    assert literal_in('"could not select device driver"') == ["audiovoice_ops/gpu/toolkit.py"]
    assert literal_in("nvidia-container-toolkit") == ["audiovoice_ops/gpu/toolkit.py"]
    assert literal_in('("true", "1", "yes", "on")') == ["engines/flags.py"]
    assert literal_in("WORKER_NAMES = (") == ["audiovoice_ops/core/stack/roles.py"]
    assert literal_in('"x-avops-gpus"') == ["audiovoice_ops/core/stack/model.py"]


def test_the_shared_rules_stay_out_of_the_ml_stack():
    """avops imports engines.flags and engines.cuda_check: neither may pull torch or pydantic-settings."""
    import subprocess
    import sys

    code = (
        "import sys, audiovoice_ops.core.envfacts, audiovoice_ops.gpu.check, engines.flags, engines.cuda_check; "
        "print(sorted(m for m in ('torch', 'pydantic_settings', 'engines.settings', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout
    assert out.strip() == "[]"
