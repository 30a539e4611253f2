"""`avops cleanup` touches only what carries the project's labels."""

from __future__ import annotations

import json

import pytest

from audiovoice_ops.core.errors import ExitCode

pytestmark = pytest.mark.docker


def cleanup(project, *args):
    result = project.avops("cleanup", "--json", *args)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout)


def outcomes(data, kind):
    return {a["name"]: a["outcome"] for a in data["actions"] if a["kind"] == kind}


@pytest.fixture
def bystanders(docker_client, build_project):
    """Things that look like the project but are not its: all must survive cleanup."""
    made = {"containers": [], "images": [], "volumes": [], "networks": []}
    busybox = docker_client.images.get("avops-test/busybox:latest")
    for tag in ("my-audio-voice-backup", f"{build_project.name}-app-backup"):
        busybox.tag(f"avops-test/{tag}", "latest")
        made["images"].append(f"avops-test/{tag}:latest")
    made["containers"].append(
        docker_client.containers.run(
            "avops-test/busybox:latest",
            ["sleep", "300"],
            detach=True,
            network_mode="none",
            name=f"other-{build_project.name}",
            labels={"com.docker.compose.project": "someone-else"},
        ).id
    )
    made["volumes"].append(docker_client.volumes.create(f"{build_project.name}_data_backup").name)
    made["networks"].append(docker_client.networks.create(f"{build_project.name}_default_copy").id)
    yield made
    for cid in made["containers"]:
        docker_client.api.remove_container(cid, force=True)
    for image in made["images"]:
        docker_client.api.remove_image(image)
    for vol in made["volumes"]:
        docker_client.api.remove_volume(vol)
    for net in made["networks"]:
        docker_client.api.remove_network(net)


def test_cleanup_spares_everything_without_the_project_label(
    build_project, docker_client, bystanders
):
    assert build_project.avops("rebuild").returncode == 0
    code, data = cleanup(build_project)
    assert code == 0, data
    assert set(outcomes(data, "container").values()) == {"removed"}
    assert len(outcomes(data, "container")) == 2
    assert outcomes(data, "image") == {f"{build_project.name}-app:latest": "removed"}
    assert outcomes(data, "volume") == {f"{build_project.name}_data": "kept"}
    assert data["kept"] == [f"{build_project.name}_data"]
    # bystanders all still there
    for cid in bystanders["containers"]:
        assert docker_client.api.inspect_container(cid)["State"]["Running"]
    for image in bystanders["images"]:
        docker_client.api.inspect_image(image)
    docker_client.api.inspect_image("avops-test/busybox:latest")
    for vol in bystanders["volumes"]:
        docker_client.api.inspect_volume(vol)
    for net in bystanders["networks"]:
        docker_client.api.inspect_network(net)
    # the project's data volume too
    docker_client.api.inspect_volume(f"{build_project.name}_data")


def test_cleanup_is_idempotent(build_project):
    assert build_project.avops("rebuild").returncode == 0
    assert cleanup(build_project)[0] == 0
    code, data = cleanup(build_project)
    assert code == 0
    assert data["removed"] == 0


def test_dry_run_changes_nothing(build_project, docker_client):
    assert build_project.avops("rebuild").returncode == 0
    code, data = cleanup(build_project, "--dry-run")
    assert code == 0 and data["dry_run"] is True
    assert set(outcomes(data, "container").values()) == {"planned"}
    assert (
        len(
            docker_client.api.containers(
                filters={"label": f"com.docker.compose.project={build_project.name}"}
            )
        )
        == 2
    )


def test_volumes_removed_only_when_asked(build_project, docker_client):
    assert build_project.avops("rebuild").returncode == 0
    code, data = cleanup(build_project, "--volumes")  # no terminal, no --yes: refuse to guess
    assert code == ExitCode.CONFIG
    docker_client.api.inspect_volume(f"{build_project.name}_data")
    code, data = cleanup(build_project, "--volumes", "--yes")
    assert code == 0
    assert outcomes(data, "volume") == {f"{build_project.name}_data": "removed"}


def test_cleanup_removes_orphans_and_one_offs(build_project):
    from audiovoice_ops.core import labels as L

    build_project.foreign_container(
        f"{build_project.name}-old-1",
        labels={L.PROJECT: build_project.name, L.SERVICE: "old", L.ONEOFF: "False"},
    )
    build_project.foreign_container(
        f"{build_project.name}-app-run-1",
        labels={L.PROJECT: build_project.name, L.SERVICE: "app", L.ONEOFF: "True"},
    )
    code, data = cleanup(build_project, "--timeout", "0")
    assert code == 0
    assert outcomes(data, "container") == {
        f"{build_project.name}-old-1": "removed",
        f"{build_project.name}-app-run-1": "removed",
    }


def test_squatter_refused_unless_forced(build_project, docker_client):
    assert build_project.avops("rebuild").returncode == 0
    squatter = build_project.foreign_container(f"{build_project.name}-intruder")
    code, data = cleanup(build_project)
    assert code == ExitCode.REFUSED
    assert outcomes(data, "container")[f"{build_project.name}-intruder"] == "refused"
    assert (
        len(
            docker_client.api.containers(
                filters={"label": f"com.docker.compose.project={build_project.name}"}
            )
        )
        == 2
    )
    code, data = cleanup(build_project, "--force")
    assert code == 0
    assert docker_client.api.inspect_container(squatter)["State"]["Running"]  # never touched
    assert not docker_client.api.containers(
        filters={"label": f"com.docker.compose.project={build_project.name}"}
    )


def test_table_output(build_project):
    assert build_project.avops("rebuild").returncode == 0
    result = build_project.avops("cleanup")
    assert result.returncode == 0
    assert "removed" in result.stdout and f"{build_project.name}_data" in result.stdout


def test_anonymous_volumes_go_with_their_container_named_ones_stay(build_project, docker_client):
    dockerfile = build_project.dir / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + 'VOLUME ["/cache"]\n')  # unmounted: anonymous
    assert build_project.avops("rebuild").returncode == 0
    mounts = docker_client.api.inspect_container(f"{build_project.name}-app-1")["Mounts"]
    anonymous = next(m["Name"] for m in mounts if m["Destination"] == "/cache")
    code, _ = cleanup(build_project)
    assert code == 0
    assert not docker_client.api.volumes(filters={"name": anonymous}).get("Volumes")
    docker_client.api.inspect_volume(f"{build_project.name}_data")  # users' data kept


def test_squatter_policy_is_decided_in_core(project, docker_client):
    """The plan itself says a squatter refuses the run (the command only renders it): the refusal
    is a foreign-container action of its own, never mixed into the volumes, and carrying the plan
    out raises ``Refused`` before touching anything."""
    from audiovoice_ops.core.cleanup import cleanup_plan, run_cleanup
    from audiovoice_ops.core.errors import Refused
    from audiovoice_ops.core.project import Project

    project.up()
    project.foreign_container(f"{project.name}-intruder")
    subject = Project.attach(docker_client, project.stack())
    plan = cleanup_plan(subject)
    assert plan.refused and {a.kind for a in plan.volumes} <= {"volume"}
    assert [(a.kind, a.name, a.outcome) for a in plan.foreign] == [
        ("container", f"{project.name}-intruder", "refused")
    ]
    with pytest.raises(Refused, match="squat"):
        run_cleanup(subject, plan)
    assert all(a.outcome == "planned" for a in plan.containers)
    assert (
        len(
            docker_client.api.containers(
                filters={"label": f"com.docker.compose.project={project.name}"}
            )
        )
        == 2
    )
    forced = cleanup_plan(subject, force=True)
    assert not forced.refused and not forced.foreign and forced.squatters
