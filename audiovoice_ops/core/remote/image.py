"""The worker image on the remote engine: the local engine's image, same id, or streamed there.

Nothing is pulled from a registry (the image is usually built here): ``docker save`` of the local
engine is streamed into ``docker load`` on the remote over the same connection, chunk by chunk, so
neither side holds the archive in memory or on disk. An image already there with the same id is
left alone; one with the same tag but another id (an older build) is replaced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from audiovoice_ops.core.errors import OperationFailed

if TYPE_CHECKING:
    import docker

# Bytes sent, bytes expected (the image's size; the archive runs a little over it), finished.
Progress = Callable[[int, int, bool], None]
MISSING, OUTDATED = "missing", "outdated"


def image_id(client: docker.DockerClient, image: str) -> str | None:
    from docker.errors import ImageNotFound, NotFound

    try:
        return client.api.inspect_image(image)["Id"]
    except (ImageNotFound, NotFound):
        return None


def ensure_image(
    local: docker.DockerClient,
    remote: docker.DockerClient,
    image: str,
    on_progress: Progress | None = None,
) -> str | None:
    """Make ``remote`` hold ``image`` as ``local`` has it. Returns why it was sent (``missing``,
    ``outdated``) or None when the remote already had it."""
    local_id = image_id(local, image)
    if local_id is None:
        raise OperationFailed(
            f"image {image} is not on the local engine, so it cannot be sent to the worker host",
            hint="`avops rebuild` builds it (or set AVOPS_IMAGE to an image you have)",
        )
    remote_id = image_id(remote, image)
    if remote_id == local_id:
        return None
    size = int(local.api.inspect_image(image).get("Size") or 0)
    transfer_image(local, remote, image, size, on_progress)
    if image_id(remote, image) != local_id:
        raise OperationFailed(f"the worker host did not end up with {image} ({local_id[:19]})")
    return MISSING if remote_id is None else OUTDATED


def transfer_image(
    local: docker.DockerClient,
    remote: docker.DockerClient,
    image: str,
    size: int,
    on_progress: Progress | None = None,
) -> int:
    """Stream ``docker save`` from ``local`` into ``docker load`` on ``remote``; the bytes sent."""
    from docker.errors import APIError

    sent = [0]

    def counted(chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            sent[0] += len(chunk)
            if on_progress:
                on_progress(sent[0], max(size, sent[0]), False)
            yield chunk
        if on_progress:
            on_progress(sent[0], sent[0], True)

    try:
        for message in remote.api.load_image(counted(local.api.get_image(image)), quiet=True):
            if isinstance(message, dict) and message.get("error"):
                raise OperationFailed(
                    f"loading {image} on the worker host failed: {message['error']}"
                )
    except APIError as exc:
        reason = exc.explanation or str(exc)
        raise OperationFailed(f"sending {image} to the worker host failed: {reason}") from None
    return sent[0]
