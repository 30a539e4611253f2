"""Checklist "Docker": a current nvidia/cuda base tag, healthchecks, the worker's GPU reservation."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from audiovoice_ops.core.stack import Stack

from audiovoice_ops.core.doctor.report import FAIL, PASS, SKIPPED, WARN, Check
from audiovoice_ops.core.doctor.sources import Sources
from audiovoice_ops.gpu.variants import default_variant, load_cuda_tags

_ARG = re.compile(r"^ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$", re.IGNORECASE)
_FROM = re.compile(r"^FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?\s*$", re.IGNORECASE)
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def dockerfile_base_images(text: str, build_args: dict[str, str | None] | None = None) -> list[str]:
    """The ``FROM`` images of a Dockerfile, with global ``ARG`` defaults (and build args) resolved;
    ``FROM`` lines naming an earlier stage are left out."""
    args: dict[str, str] = {}
    stages: set[str] = set()
    images: list[str] = []
    seen_from = False
    joined = re.sub(r"\\\r?\n", " ", text)
    for raw in joined.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if (m := _ARG.match(line)) and not seen_from:
            name, default = m.group(1), (m.group(2) or "").strip().strip("\"'")
            given = (build_args or {}).get(name)
            args[name] = given if given is not None else default
        elif m := _FROM.match(line):
            seen_from = True
            image = _VAR.sub(
                lambda v: args.get(v.group(1) or v.group(3)) or (v.group(2) or ""), m.group(1)
            )
            if image.lower() not in stages:
                images.append(image)
            if m.group(2):
                stages.add(m.group(2).lower())
    return images


def classify_image(image: str, data: dict) -> tuple[str, str, str | None]:
    """(status, reason, fix) for one base image against the tag data file."""
    repo, _, tag = image.partition(":")
    tag = tag.split("@", 1)[0] or "latest"
    if repo.removeprefix("docker.io/").removeprefix("library/") != data["repository"]:
        return SKIPPED, f"{image} is not an {data['repository']} image", None
    for rule in data["deprecated"]:
        if fnmatch.fnmatchcase(tag, rule["pattern"]):
            return (
                rule["status"],
                f"{image}: {rule['reason']}",
                f"use {rule['replacement']} (ARG BASE_IMAGE default)",
            )
    if any(fnmatch.fnmatchcase(tag, pattern) for pattern in data["current"]):
        return PASS, f"{image} is a current tag", None
    recommended = default_variant(data).base_image
    return WARN, f"{image} is not in avops's list of current tags", f"prefer {recommended}"


def dockerfiles(stack: Stack) -> dict[str, tuple[Path, dict[str, str | None]]]:
    found = {}
    for name, service in stack.services.items():
        if service.build is not None:
            context = stack.resolve_path(service.build.context)
            found[name] = (context / (service.build.dockerfile or "Dockerfile"), service.build.args)
    return found


def check_base_image(src: Sources) -> Check:
    title = "Dockerfile base image is a current CUDA tag"
    files = dockerfiles(src.stack)
    if not files:
        return Check(
            "docker.base_image", "docker", title, SKIPPED, "no service has a build: section"
        )
    data = load_cuda_tags()
    rank = {FAIL: 3, WARN: 2, PASS: 1, SKIPPED: 0}
    results: list[tuple[str, str, str | None]] = []
    for service, (path, args) in sorted(files.items()):
        try:
            images = dockerfile_base_images(path.read_text(encoding="utf-8"), args)
        except OSError as exc:
            results.append(
                (
                    FAIL,
                    f"{service}: cannot read {path}: {exc.strerror or exc}",
                    "fix build.dockerfile",
                )
            )
            continue
        if not images:
            results.append((FAIL, f"{service}: no FROM line in {path}", "add FROM ${BASE_IMAGE}"))
        results.extend(classify_image(image, data) for image in dict.fromkeys(images))
    status, reason, fix = max(results, key=lambda r: rank[r[0]])
    if status == SKIPPED:
        return Check("docker.base_image", "docker", title, SKIPPED, reason)
    others = [r[1] for r in results if r[1] != reason and r[0] != SKIPPED]
    return Check("docker.base_image", "docker", title, status, "; ".join([reason, *others]), fix)


def check_healthchecks(src: Sources) -> Check:
    title = "healthchecks defined (api and worker)"
    missing = [
        name
        for name, svc in src.stack.services.items()
        if svc.healthcheck is None
        or svc.healthcheck.disable
        or not svc.healthcheck.test
        or svc.healthcheck.test[0] == "NONE"
    ]
    if missing:
        return Check(
            "docker.healthchecks",
            "docker",
            title,
            FAIL,
            f"no healthcheck for {', '.join(missing)}",
            f"add a healthcheck: section to {', '.join(missing)} in {src.stack.compose_file.name}",
        )
    return Check(
        "docker.healthchecks", "docker", title, PASS, f"all {len(src.stack.services)} services"
    )


def check_gpu_reservation(src: Sources) -> Check:
    title = "GPU reservation for the worker"
    if src.worker is None:
        return Check(
            "docker.gpu_reservation",
            "docker",
            title,
            SKIPPED,
            "no worker service in the compose file",
        )
    devices = src.stack.service(src.worker).gpu_devices
    if not devices:
        return Check(
            "docker.gpu_reservation",
            "docker",
            title,
            FAIL,
            f"service {src.worker} reserves no GPU",
            f"add deploy.resources.reservations.devices: [{{driver: nvidia, count: 1, capabilities: [gpu]}}] to {src.worker}",
        )
    gpu = [d for d in devices if "gpu" in d.capabilities]
    if not gpu:
        return Check(
            "docker.gpu_reservation",
            "docker",
            title,
            FAIL,
            f"{src.worker}'s device reservation lacks capabilities: [gpu]",
            "add capabilities: [gpu] to the reservation",
        )
    return Check(
        "docker.gpu_reservation",
        "docker",
        title,
        PASS,
        f"{src.worker}: driver {gpu[0].driver or 'default'}, count {gpu[0].count or 'all'}",
    )
