"""`avops rebuild` on a real engine: builds, starts in order, waits on events, fails fast."""

from __future__ import annotations

import json
import time

import pytest

from audiovoice_ops.core import labels as L
from audiovoice_ops.core.errors import ExitCode

pytestmark = pytest.mark.docker


def rebuild(project, *args, timeout=120):
    started = time.monotonic()
    result = project.avops("rebuild", *args, timeout=timeout)
    assert "Traceback" not in result.stderr, result.stderr
    return result, time.monotonic() - started


def test_rebuild_reaches_healthy(build_project, docker_client):
    result, _ = rebuild(build_project, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    rows = {r["service"]: r for r in report["services"]}
    assert rows["app"]["health"] == "healthy" and rows["store"]["health"] == "healthy"
    image = docker_client.api.inspect_image(f"{build_project.name}-app")
    assert image["Config"]["Labels"][L.BUILT_FOR_PROJECT] == build_project.name
    logs = build_project.avops("logs", "app")
    assert "built by avops" in logs.stdout and "LOW_VRAM=true" in logs.stdout


def test_rebuild_twice_keeps_one_container_per_service_and_the_volume(build_project, docker_client):
    assert rebuild(build_project)[0].returncode == 0
    docker_client.containers.get(f"{build_project.name}-store-1").exec_run(
        ["sh", "-c", "echo keep > /data/voice.txt"]
    )
    result, _ = rebuild(build_project, "--json")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["services"]) == 2
    out = docker_client.containers.get(f"{build_project.name}-store-1").exec_run(
        ["cat", "/data/voice.txt"]
    )
    assert out.output.strip() == b"keep"


def test_rebuild_single_service(build_project, docker_client):
    assert rebuild(build_project)[0].returncode == 0
    store_id = docker_client.containers.get(f"{build_project.name}-store-1").id
    result, _ = rebuild(build_project, "--service", "app")
    assert result.returncode == 0, result.stderr
    assert docker_client.containers.get(f"{build_project.name}-store-1").id == store_id  # untouched


def test_missing_env_file(build_project):
    build_project.env_file.unlink()
    result, _ = rebuild(build_project)
    assert result.returncode == ExitCode.CONFIG
    assert "cp .env.example .env" in result.stderr


@pytest.mark.parametrize(
    "content, needle",
    [
        ("F5TTS_DEVICE=auto\n", "LOW_VRAM is not set"),
        ("LOW_VRAM=maybe\n", "accepted values: true/1/yes/on/false/0/no/off"),
    ],
)
def test_low_vram_precondition(build_project, content, needle):
    build_project.env_file.write_text(content)
    result, _ = rebuild(build_project)
    assert result.returncode == ExitCode.CONFIG
    assert needle in result.stderr


def test_build_error_shows_failing_step(build_project):
    dockerfile = build_project.dir / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + 'RUN echo "about to fail" && exit 3\n')
    result, _ = rebuild(build_project)
    assert result.returncode == ExitCode.OPERATION_FAILED
    assert "failed at step 5/" in result.stderr and '(RUN echo "about to fail"' in result.stderr
    assert "about to fail" in result.stderr  # the build log tail
    assert "returned a non-zero code: 3" in result.stderr
    # The failed build's layers carry the project label (the Dockerfile labels early): cleanup
    # prunes them, leaving no image of the project behind, intermediate ones included.
    client = build_project.client
    selector = {"label": f"{L.BUILT_FOR_PROJECT}={build_project.name}"}
    assert client.api.images(all=True, filters=selector)
    assert build_project.avops("cleanup").returncode == 0
    assert client.api.images(all=True, filters=selector) == []


APP_BLOCK = "    <<: [*idle, *health]\n    network_mode: host\n    env_file: .env"


def change_app(project, replacement: str) -> None:
    """Swap the ``app`` service's command/healthcheck block of the fixture compose file."""
    compose = project.compose_file
    text = compose.read_text()
    assert APP_BLOCK in text
    compose.write_text(
        text.replace(APP_BLOCK, replacement + "    network_mode: host\n    env_file: .env")
    )


def test_crashing_service_fails_fast_with_logs(build_project):
    change_app(
        build_project,
        '    <<: [*idle, *health]\n    command: ["sh", "-c", "echo crashing-now; exit 4"]\n',
    )
    result, elapsed = rebuild(build_project, "--timeout", "120")
    assert result.returncode == ExitCode.OPERATION_FAILED
    assert "exited with code 4" in result.stderr
    assert "crashing-now" in result.stderr
    assert elapsed < 60  # fails at once, not at the 120 s timeout


def test_unhealthy_service_fails_fast_with_probe_output(build_project):
    change_app(
        build_project,
        '    <<: [*idle]\n    healthcheck:\n      test: ["CMD-SHELL", "echo probe-failed; exit 1"]\n'
        "      interval: 1s\n      retries: 2\n",
    )
    result, elapsed = rebuild(build_project, "--timeout", "120")
    assert result.returncode == ExitCode.OPERATION_FAILED
    assert "is unhealthy" in result.stderr
    assert "probe-failed" in result.stderr
    assert elapsed < 60


def test_timeout_bounds_the_wait(build_project):
    change_app(
        build_project,
        '    <<: [*idle]\n    healthcheck:\n      test: ["CMD-SHELL", "exit 1"]\n'
        "      interval: 30s\n      start_period: 60s\n",
    )
    result, elapsed = rebuild(build_project, "--timeout", "3")
    assert result.returncode == ExitCode.OPERATION_FAILED
    assert "timed out after 3s" in result.stderr
    assert elapsed < 30


def add_gpu_reservation(project):
    compose = project.compose_file
    compose.write_text(
        compose.read_text().replace(
            "    network_mode: host\n    env_file: .env",
            "    network_mode: host\n    env_file: .env\n    deploy:\n      resources:\n        reservations:\n"
            "          devices:\n            - driver: nvidia\n              count: all\n              capabilities: [gpu]",
        )
    )


def nvidia_runtime(docker_client) -> bool:
    return "nvidia" in (docker_client.info().get("Runtimes") or {})


def test_gpus_on_without_nvidia_is_a_clear_error(build_project, docker_client):
    if nvidia_runtime(docker_client):
        pytest.skip("this engine has the NVIDIA runtime; the no-GPU error cannot happen here")
    add_gpu_reservation(build_project)
    result, _ = rebuild(build_project, "--gpus", "on")
    assert result.returncode == ExitCode.OPERATION_FAILED
    assert "NVIDIA Container Toolkit" in result.stderr
    assert 'could not select device driver "nvidia"' in result.stderr


def test_gpus_auto_falls_back_to_cpu(build_project, docker_client):
    if nvidia_runtime(docker_client):
        pytest.skip("this engine has the NVIDIA runtime; no fallback needed")
    add_gpu_reservation(build_project)
    result, _ = rebuild(build_project, "--gpus", "auto")
    assert result.returncode == 0, result.stderr
    assert "WARNING" in result.stdout and "CPU mode" in result.stdout
    status = json.loads(build_project.avops("status", "--json").stdout)
    app = next(r for r in status["services"] if r["service"] == "app")
    assert app["gpu"] is False and app["gpu_requested"] is True


def test_gpus_off_never_requests(build_project):
    add_gpu_reservation(build_project)
    result, _ = rebuild(build_project, "--gpus", "off")
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stdout


def test_dependency_is_healthy_before_dependent_starts(build_project, docker_client):
    from audiovoice_ops.core.containers import parse_docker_time

    assert rebuild(build_project)[0].returncode == 0
    store = docker_client.api.inspect_container(f"{build_project.name}-store-1")
    app = docker_client.api.inspect_container(f"{build_project.name}-app-1")
    first_pass = min(
        parse_docker_time(entry["End"])
        for entry in store["State"]["Health"]["Log"]
        if entry["ExitCode"] == 0
    )
    assert parse_docker_time(app["State"]["StartedAt"]) > first_pass


def test_missing_image_is_pulled_and_a_pull_failure_is_clear(build_project):
    compose = build_project.compose_file
    compose.write_text(
        compose.read_text().replace(
            "image: avops-test/busybox:latest", "image: avops-test/not-on-this-host:1.0", 1
        )
    )
    result, elapsed = rebuild(build_project)
    assert result.returncode == ExitCode.OPERATION_FAILED
    assert "pulling avops-test/not-on-this-host:1.0 failed" in result.stderr
    assert "hint:" in result.stderr
