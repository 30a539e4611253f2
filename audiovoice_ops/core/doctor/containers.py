"""Checklist "Containers": one per service (per replica), healthy, no orphans, no <none> images,
no env drift."""

from __future__ import annotations

from audiovoice_ops.core.doctor.report import FAIL, PASS, SKIPPED, WARN, Check
from audiovoice_ops.core.doctor.sources import Sources


def _docker_down(id: str, group: str, title: str, src: Sources) -> Check:
    """The failed check when there is no inventory (``src.inventory`` is None)."""
    return Check(
        id,
        group,
        title,
        FAIL,
        f"Docker Engine unreachable: {src.docker_error}",
        "start dockerd or point DOCKER_HOST at the engine",
    )


def check_containers(src: Sources) -> Check:
    from audiovoice_ops.core.errors import ConfigError

    title = "exactly one container per service (per replica for a worker per GPU)"
    if src.inventory is None:
        return _docker_down("containers.count", "containers", title, src)
    try:
        plan = src.project.replicas
    except ConfigError as exc:  # a bad WORKER_GPUS is this check's finding, not the end of doctor
        return Check("containers.count", "containers", title, FAIL, exc.message, exc.hint or "")
    missing, crowded = [], []
    for service, views in src.inventory.services.items():
        numbers = plan.numbers(service)
        if not views:
            missing.append(service)
            continue
        missing += [f"{service}:{n}" for n in numbers if all(v.number != n for v in views)]
        duplicated = len({v.number for v in views}) < len(views)
        if duplicated or plan.surplus(service, views):
            names = ", ".join(v.name for v in views)
            crowded.append(f"{service} has {len(views)} ({names}) for {len(numbers)} replica(s)")
    if missing or crowded:
        parts = [f"no container for {', '.join(missing)}"] if missing else []
        return Check(
            "containers.count",
            "containers",
            title,
            FAIL,
            "; ".join(parts + crowded),
            "avops rebuild",
        )
    replicated = [f"{s}: {len(plan.of(s))} ({why})" for s, why in plan.reasons.items()]
    return Check(
        "containers.count",
        "containers",
        title,
        PASS,
        f"{len(src.inventory.services)} services, one container each"
        + (f" per replica ({'; '.join(replicated)})" if replicated else ""),
    )


def check_health(src: Sources) -> Check:
    title = "all containers running and healthy"
    if src.inventory is None:
        return _docker_down("containers.health", "containers", title, src)
    views = [v for group in src.inventory.services.values() for v in group]
    if not views:
        return Check("containers.health", "containers", title, SKIPPED, "no containers")
    bad = [f"{v.name} is {v.state}" for v in views if not v.running]
    bad += [
        f"{v.name} is {v.health}"
        for v in views
        if v.running and v.health in ("unhealthy", "starting")
    ]
    if bad:
        return Check(
            "containers.health",
            "containers",
            title,
            FAIL,
            "; ".join(bad),
            "avops status (probe output), then avops restart SERVICE",
        )
    unprobed = [v.name for v in views if v.health is None]
    if unprobed:
        return Check(
            "containers.health",
            "containers",
            title,
            WARN,
            f"running but without a healthcheck: {', '.join(unprobed)}",
            "add a healthcheck to the service, then avops restart",
        )
    return Check(
        "containers.health", "containers", title, PASS, f"{len(views)} running, all healthy"
    )


def check_orphans(src: Sources) -> Check:
    title = "no orphan or foreign containers"
    if src.inventory is None:
        return _docker_down("containers.orphans", "containers", title, src)
    found = [f"orphan {v.name} (service {v.service})" for v in src.inventory.orphans]
    found += [f"{s.name} ({s.reason})" for s in src.inventory.squatters]
    if found:
        return Check(
            "containers.orphans",
            "containers",
            title,
            FAIL,
            "; ".join(found),
            "avops cleanup (or docker rm -f NAME)",
        )
    return Check("containers.orphans", "containers", title, PASS, "none")


def check_dangling_images(src: Sources) -> Check:
    from audiovoice_ops.core import labels as L

    title = "no <none> images of the project"
    if src.client is None:
        return Check(
            "images.dangling",
            "docker",
            title,
            SKIPPED,
            f"Docker Engine unreachable: {src.docker_error}",
        )
    found: dict[str, dict] = {}
    for label in (
        f"{L.BUILT_FOR_PROJECT}={src.stack.project}",
        L.project_filter(src.stack.project),
    ):
        for image in src.client.api.images(filters={"dangling": True, "label": label}):
            found[image["Id"]] = image
    if found:
        size = sum(i.get("Size") or 0 for i in found.values()) / 2**20
        return Check(
            "images.dangling",
            "docker",
            title,
            WARN,
            f"{len(found)} dangling image(s), {size:,.0f} MiB",
            f"docker image prune --filter label={L.BUILT_FOR_PROJECT}={src.stack.project}",
        )
    return Check("images.dangling", "docker", title, PASS, "none")


def check_env_drift(src: Sources) -> Check:
    from audiovoice_ops.core.drift import build_env_report

    title = "containers run the environment of compose file + .env"
    if src.inventory is None:
        return _docker_down("env.drift", "low_vram", title, src)
    report = build_env_report(src.project)
    drifted = [s for s in report.services if s.drift]
    if drifted:
        what = "; ".join(f"{s.container}: {', '.join(d.key for d in s.drift)}" for s in drifted)
        return Check(
            "env.drift",
            "low_vram",
            title,
            FAIL,
            f"drift in {what}",
            f"avops restart {' '.join(sorted({s.service for s in drifted}))}",
        )
    return Check("env.drift", "low_vram", title, PASS, "no drift")
