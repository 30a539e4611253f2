"""`avops status` against real containers on a real Docker Engine."""

from __future__ import annotations

import json

import pytest

from audiovoice_ops.core import labels as L

pytestmark = pytest.mark.docker


def status_json(project):
    result = project.avops("status", "--json")
    assert result.stderr == "" or "Traceback" not in result.stderr
    return result.returncode, json.loads(result.stdout)


def test_healthy_stack_passes(project):
    project.up()
    code, data = status_json(project)
    assert code == 0, data
    assert data["ok"] is True
    rows = {r["service"]: r for r in data["services"]}
    assert set(rows) == {"db", "worker"}
    assert rows["db"]["health"] == "healthy" and rows["db"]["state"] == "running"
    assert rows["worker"]["container"] == f"{project.name}-worker-1"
    assert rows["db"]["image"] == "avops-test/busybox:latest"
    assert rows["db"]["gpu"] is False
    assert rows["db"]["uptime_seconds"] is not None


def test_table_output_is_readable(project):
    project.up()
    result = project.avops("status")
    assert result.returncode == 0, result.stderr
    assert "worker" in result.stdout and "healthy" in result.stdout
    assert "one container per service" in result.stdout


def test_missing_service_fails(project):
    project.start_service("db")
    code, data = status_json(project)
    assert code == 1
    assert [p["kind"] for p in data["problems"]] == ["missing"]
    assert data["problems"][0]["subject"] == "worker"


def test_duplicate_container_fails(project):
    project.up()
    project.start_service("worker", number=2)
    code, data = status_json(project)
    assert code == 1
    kinds = [p["kind"] for p in data["problems"]]
    assert "duplicate" in kinds
    assert any(f"{project.name}-worker-2" in p["message"] for p in data["problems"])


def test_orphan_is_reported(project):
    project.up()
    # A container of this project for a service the file no longer has.
    project.foreign_container(
        f"{project.name}-legacy-1",
        labels={L.PROJECT: project.name, L.SERVICE: "legacy", L.ONEOFF: "False"},
    )
    code, data = status_json(project)
    assert code == 1
    orphan = [p for p in data["problems"] if p["kind"] == "orphan"]
    assert orphan and orphan[0]["subject"] == f"{project.name}-legacy-1"


def test_foreign_container_with_colliding_name(project):
    project.up()
    project.foreign_container(f"{project.name}-impostor")
    code, data = status_json(project)
    assert code == 1
    squatters = [p for p in data["problems"] if p["kind"] == "squatter"]
    assert [s["subject"] for s in squatters] == [f"{project.name}-impostor"]


def test_squatter_on_container_name(project):
    compose = project.compose_file.read_text()
    project.compose_file.write_text(
        compose.replace("  db:\n", f"  db:\n    container_name: {project.name}x-db\n", 1)
    )
    project.foreign_container(f"{project.name}x-db")
    code, data = status_json(project)
    assert code == 1
    squatter = [p for p in data["problems"] if p["kind"] == "squatter"]
    assert squatter and "container_name of service 'db'" in squatter[0]["message"]


def test_one_off_containers_are_not_duplicates(project):
    project.up()
    project.foreign_container(
        f"{project.name}-worker-run-1",
        labels={L.PROJECT: project.name, L.SERVICE: "worker", L.ONEOFF: "True"},
    )
    code, data = status_json(project)
    assert code == 0, data["problems"]


def test_unhealthy_container_shows_probe_output(project):
    compose = project.compose_file.read_text()
    project.compose_file.write_text(
        compose.replace(
            'test: ["CMD", "test", "-f", "/tmp/ready"]',
            'test: ["CMD-SHELL", "echo probe-says-no; exit 1"]',
            1,
        )
    )
    project.start_service("db")
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        code, data = status_json(project)
        rows = {r["service"]: r for r in data["services"]}
        if rows.get("db", {}).get("health") == "unhealthy":
            break
        time.sleep(0.5)
    assert rows["db"]["health"] == "unhealthy"
    assert "probe-says-no" in rows["db"]["health_output"]
    assert any(p["kind"] == "unhealthy" for p in data["problems"])
