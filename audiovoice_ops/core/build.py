"""Building service images through the SDK, streamed, and pulling images that are missing;
``ImageJobs`` runs them in parallel.

Built images carry the project labels (cleanup finds them by label, never by name). ``rm`` and
``forcerm`` are always set: without them the classic builder leaves unlabeled intermediate
containers behind.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, wait
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from audiovoice_ops.core import labels as L
from audiovoice_ops.core.convergence import image_name
from audiovoice_ops.core.errors import BuildFailed, OperationFailed
from audiovoice_ops.core.stack import Stack

if TYPE_CHECKING:
    import docker

    from audiovoice_ops.core.project import Project

TAIL_LINES = 30
# Build arg every build receives, so a Dockerfile can label its intermediate layers too
# (``ARG AVOPS_PROJECT`` + ``LABEL io.avops.built-for-project=$AVOPS_PROJECT``).
PROJECT_BUILD_ARG = "AVOPS_PROJECT"
_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)")


@dataclass
class BuildProgress:
    service: str
    step: int = 0
    total: int = 0
    instruction: str = ""
    line: str = ""


ProgressCallback = Callable[[BuildProgress], None]
LineCallback = Callable[[str, str], None]


def build_labels(stack: Stack, service: str) -> dict[str, str]:
    svc = stack.service(service)
    return {
        **{k: v or "" for k, v in (svc.build.labels if svc.build else {}).items()},
        # Not the compose project/service labels: containers inherit image labels, and a
        # container someone runs by hand from this image must not pass for a service container.
        L.BUILT_FOR_PROJECT: stack.project,
        L.BUILT_FOR_SERVICE: service,
        L.MANAGED_BY: L.MANAGED_BY_VALUE,
    }


def build_service(
    project: Project,
    service: str,
    nocache: bool = True,
    on_progress: ProgressCallback | None = None,
    on_line: LineCallback | None = None,
) -> str:
    """Build the service's image; returns the image id. Raises BuildFailed with the failing step."""
    client, stack = project.client, project.stack
    svc = stack.service(service)
    assert svc.build is not None, f"service {service} has no build section"
    context = stack.resolve_path(svc.build.context)
    if not context.is_dir():
        raise OperationFailed(f"build context of service {service!r} not found: {context}")
    progress = BuildProgress(service)
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    stream = client.api.build(
        path=str(context),
        dockerfile=svc.build.dockerfile,
        tag=image_name(stack, service),
        buildargs={
            **{k: v or "" for k, v in svc.build.args.items()},
            PROJECT_BUILD_ARG: stack.project,
        },
        target=svc.build.target,
        nocache=nocache,
        rm=True,
        forcerm=True,
        pull=False,
        labels=build_labels(stack, service),
        network_mode=svc.build.network,
        decode=True,
    )
    image_id = None
    for chunk in stream:
        if "error" in chunk or "errorDetail" in chunk:
            message = chunk.get("error") or chunk["errorDetail"].get("message", "build failed")
            tail.append(message.strip())
            where = (
                f"step {progress.step}/{progress.total} ({progress.instruction})"
                if progress.step
                else "setup"
            )
            raise BuildFailed(
                f"building {service!r} failed at {where}: {message.strip().splitlines()[-1]}",
                list(tail),
            )
        if "aux" in chunk and "ID" in chunk["aux"]:
            image_id = chunk["aux"]["ID"]
        for line in (chunk.get("stream") or "").splitlines():
            if not line.strip():
                continue
            tail.append(line)
            _track(progress, line)
            if on_line:
                on_line(service, line)
            if on_progress:
                on_progress(progress)
    if image_id is None:
        image_id = client.api.inspect_image(image_name(stack, service))["Id"]
    return image_id


def _track(progress: BuildProgress, line: str) -> None:
    match = _STEP.match(line)
    if match:
        progress.step, progress.total, progress.instruction = (
            int(match[1]),
            int(match[2]),
            match[3][:80],
        )
    progress.line = line.strip()[:120]


def image_present(client: docker.DockerClient, name: str) -> bool:
    from docker.errors import ImageNotFound

    try:
        client.api.inspect_image(name)
        return True
    except ImageNotFound:
        return False


def pull_image(
    client: docker.DockerClient, name: str, on_status: Callable[[str], None] | None = None
) -> None:
    """Pull ``name``, reporting layer status lines; a clear error when the registry is unreachable."""
    from docker.errors import APIError

    repository, _, tag = (
        name.rpartition(":") if ":" in name.split("/")[-1] else (name, "", "latest")
    )
    try:
        for chunk in client.api.pull(repository, tag=tag or "latest", stream=True, decode=True):
            if "error" in chunk:
                raise OperationFailed(f"pulling {name} failed: {chunk['error']}")
            if on_status and chunk.get("status"):
                on_status(
                    f"{chunk.get('id', '')} {chunk['status']} {chunk.get('progress', '')}".strip()
                )
    except APIError as exc:
        raise OperationFailed(
            f"pulling {name} failed: {exc.explanation or exc}",
            hint="check the image name and that the registry is reachable (or docker load it)",
        ) from None


class ImageJobs:
    """The images a set of services needs, built and pulled in parallel on background threads.

    One job per distinct image: services sharing an image (audio-voice's api and celery) build it
    once. ``ready(service)`` blocks until that service's image exists and re-raises its job's
    error, so a caller can start services whose image is ready while other builds still run.
    The threads are daemons: Ctrl-C ends avops without waiting for a build (the engine cancels a
    build whose client went away).
    """

    def __init__(
        self,
        project: Project,
        services: list[str],
        *,
        nocache: bool,
        on_progress: ProgressCallback | None = None,
        on_line: LineCallback | None = None,
        on_built: Callable[[str, str], None] | None = None,
        on_pull_status: Callable[[str, str], None] | None = None,
    ):
        client, stack = project.client, project.stack
        self._jobs: dict[str, Future] = {}  # image name -> its build or pull
        self._image_of = {service: image_name(stack, service) for service in services}

        def build(service: str) -> str:
            image_id = build_service(
                project, service, nocache=nocache, on_progress=on_progress, on_line=on_line
            )
            if on_built:
                on_built(service, image_id)
            return image_id

        def pull(image: str) -> None:
            pull_image(
                client,
                image,
                on_status=(lambda status: on_pull_status(image, status))
                if on_pull_status
                else None,
            )

        for service in services:
            image = self._image_of[service]
            if image in self._jobs:
                continue
            if stack.service(service).build:
                self._jobs[image] = _in_background(partial(build, service))
            elif not image_present(client, image):
                self._jobs[image] = _in_background(partial(pull, image))

    def is_ready(self, service: str) -> bool:
        """True when the service's image is there already (nothing to build or pull, or done)."""
        job = self._jobs.get(self._image_of[service])
        return job is None or (job.done() and job.exception() is None)

    def ready(self, service: str) -> None:
        job = self._jobs.get(self._image_of[service])
        if job is not None:
            job.result()

    def wait_all(self) -> None:
        """Block until every job ended, or raise the first failure as soon as it happens."""
        wait(list(self._jobs.values()), return_when=FIRST_EXCEPTION)
        for job in self._jobs.values():
            if job.done():
                job.result()  # raises the job's error


def _in_background(work: Callable[[], object]) -> Future:
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(work())
        except BaseException as exc:  # noqa: BLE001  (handed to whoever waits on the job: result() re-raises it)
            future.set_exception(exc)

    threading.Thread(target=run, name="avops-image", daemon=True).start()
    return future
