"""`avops rebuild` without an outage for the build: images first while the old stack serves, then
a recreate in dependency order with a warm shutdown; `--clean` keeps the old script's order and
overlaps the builds with starting what needs none. On a real engine, timestamps from Docker itself."""

from __future__ import annotations

import time

import pytest

from audiovoice_ops.core.containers import parse_docker_time
from audiovoice_ops.core.errors import ExitCode
from tests.lifecycle.test_rebuild import change_app, rebuild

pytestmark = pytest.mark.docker


def container(client, project, service: str) -> dict:
    return client.api.inspect_container(f"{project.name}-{service}-1")


def image_created(client, project) -> float:
    return parse_docker_time(client.api.inspect_image(f"{project.name}-app")["Created"]).timestamp()


def slow_build(project, seconds: int = 2) -> None:
    dockerfile = project.dir / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + f"RUN sleep {seconds}\n")


def first_event(client, container_id: str, actions: tuple[str, ...], since: float) -> float:
    events = client.api.events(
        since=since,
        until=time.time() + 0.1,
        decode=True,
        filters={"type": "container", "container": container_id},
    )
    times = [e["timeNano"] / 1e9 for e in events if e.get("Action") in actions]
    assert times, f"no {actions} event for {container_id[:12]}"
    return min(times)


@pytest.mark.parametrize(
    "flags, old_app_stops", [((), "after the new image exists"), (("--clean",), "before the build")]
)
def test_the_old_container_serves_until_its_image_is_built(
    build_project, docker_client, flags, old_app_stops
):
    assert rebuild(build_project)[0].returncode == 0
    old_app = container(docker_client, build_project, "app")["Id"]
    slow_build(build_project)
    since = time.time()
    result, _ = rebuild(build_project, *flags)
    assert result.returncode == 0, result.stderr
    stopped = first_event(docker_client, old_app, ("kill", "die", "stop"), since)
    built = image_created(docker_client, build_project)
    assert (stopped > built) == (old_app_stops == "after the new image exists"), (stopped, built)
    assert container(docker_client, build_project, "app")["Id"] != old_app


def test_a_failed_build_leaves_the_running_stack_untouched(build_project, docker_client):
    assert rebuild(build_project)[0].returncode == 0
    before = {s: container(docker_client, build_project, s) for s in ("store", "app")}
    image_before = docker_client.api.inspect_image(f"{build_project.name}-app")["Id"]
    dockerfile = build_project.dir / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "RUN exit 3\n")
    result, _ = rebuild(build_project)
    assert result.returncode == ExitCode.OPERATION_FAILED
    assert "building 'app' failed at step" in result.stderr
    for service, old in before.items():
        now = container(docker_client, build_project, service)
        assert now["Id"] == old["Id"] and now["State"]["StartedAt"] == old["State"]["StartedAt"]
        assert now["State"]["Status"] == "running" and now["State"]["Health"]["Status"] == "healthy"
    assert docker_client.api.inspect_image(f"{build_project.name}-app")["Id"] == image_before


def test_an_unchanged_image_only_service_keeps_serving(build_project, docker_client):
    assert rebuild(build_project)[0].returncode == 0
    store, app = (container(docker_client, build_project, s)["Id"] for s in ("store", "app"))
    result, _ = rebuild(build_project)
    assert result.returncode == 0, result.stderr
    assert (
        container(docker_client, build_project, "store")["Id"] == store
    )  # same image, same config
    assert (
        container(docker_client, build_project, "app")["Id"] != app
    )  # rebuilt without cache: new image
    # The image the rebuild replaced is gone (no container uses it), the current one stays.
    images = docker_client.api.images(
        filters={"label": f"io.avops.built-for-project={build_project.name}"}
    )
    assert [i["RepoTags"] for i in images] == [[f"{build_project.name}-app:latest"]]


def test_the_replaced_container_gets_its_grace_period(build_project, docker_client):
    """A warm shutdown: the old worker finishes what it is doing (1 s here, within the fixture's
    stop_grace_period of 2 s) before the new one starts."""
    change_app(
        build_project,
        "    <<: [*health]\n"
        '    command: ["sh", "-c", "trap \'sleep 1; echo finished > /data/drained-$$HOSTNAME; exit 0\' TERM; '
        'touch /tmp/ready; while true; do sleep 1 & wait $$!; done"]\n'
        "    volumes:\n      - data:/data\n",
    )
    assert rebuild(build_project)[0].returncode == 0
    old = container(docker_client, build_project, "app")
    assert rebuild(build_project)[0].returncode == 0
    store = docker_client.containers.get(f"{build_project.name}-store-1")
    out = store.exec_run(["cat", f"/data/drained-{old['Config']['Hostname']}"])
    assert out.exit_code == 0 and out.output.strip() == b"finished"


def test_clean_starts_what_needs_no_build_while_the_build_runs(build_project, docker_client):
    slow_build(build_project, 3)
    result, _ = rebuild(build_project, "--clean")
    assert result.returncode == 0, result.stderr
    store_started = parse_docker_time(
        container(docker_client, build_project, "store")["State"]["StartedAt"]
    )
    app_started = parse_docker_time(
        container(docker_client, build_project, "app")["State"]["StartedAt"]
    )
    assert (
        store_started.timestamp()
        < image_created(docker_client, build_project)
        < app_started.timestamp()
    )
