"""`avops env`: effective environment and drift against real containers."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.docker


def env_json(project, *args):
    result = project.avops("env", "--json", *args)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout)


def test_no_drift_after_fresh_start(project):
    project.up()
    code, data = env_json(project)
    assert code == 0, data
    worker = next(s for s in data["services"] if s["service"] == "worker")
    assert worker["environment"]["LOW_VRAM"] == "true"
    assert worker["environment"]["SERVICE_ROLE"] == "worker"
    assert worker["drift"] == []


def test_drift_after_editing_env_file(project):
    project.up()
    text = project.env_file.read_text().replace("LOW_VRAM=true", "LOW_VRAM=false")
    project.env_file.write_text(text + "NEW_SETTING=1\n")
    code, data = env_json(project, "worker")
    assert code == 1
    worker = data["services"][0]
    drift = {d["key"]: d for d in worker["drift"]}
    assert drift["LOW_VRAM"] == {"key": "LOW_VRAM", "expected": "false", "actual": "true"}
    assert drift["NEW_SETTING"]["actual"] is None
    assert worker["fix"] == "avops restart worker"


def test_removed_variable_is_drift(project):
    project.up()
    project.env_file.write_text(project.env_file.read_text().replace("F5TTS_DEVICE=auto\n", ""))
    code, data = env_json(project, "worker")
    assert code == 1
    assert data["services"][0]["drift"] == [
        {"key": "F5TTS_DEVICE", "expected": None, "actual": "auto"}
    ]


def test_image_environment_is_not_drift(project, docker_client):
    project.up()
    code, data = env_json(project)
    # The busybox image sets no env; a PATH the engine adds must not count either.
    assert code == 0, [s["drift"] for s in data["services"]]


def test_secrets_are_masked(project):
    project.up()
    _, data = env_json(project, "worker")
    assert data["services"][0]["environment"]["API_TOKEN"] == "********"
    _, data = env_json(project, "worker", "--show-secrets")
    assert data["services"][0]["environment"]["API_TOKEN"] == "s3cr3t"


def test_drift_table_names_the_fix(project):
    project.up()
    project.env_file.write_text(
        project.env_file.read_text().replace("LOW_VRAM=true", "LOW_VRAM=false")
    )
    result = project.avops("env", "worker")
    assert result.returncode == 1
    assert "avops restart worker" in result.stdout
    assert "LOW_VRAM" in result.stdout


def test_no_docker_mode_needs_no_engine(project):
    env = {**project.cli_env(), "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    result = project.avops("env", "--no-docker", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["services"][1]["environment"]["LOW_VRAM"] == "true"
