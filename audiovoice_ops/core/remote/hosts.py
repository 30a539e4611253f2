"""The remote worker hosts: their URL rule, their slug, and the file that remembers them.

Hosts are kept in ``.avops-hosts.json`` next to the stack's ``.env`` (owned by avops, never the
user's ``.env``), so ``worker ls`` and the fleet views know them. The file holds no secret: the
Redis URL is stored with its password masked.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from audiovoice_ops.core.errors import ConfigError, UsageError

STATE_FILE = ".avops-hosts.json"
MAX_STATE_BYTES = 256 * 1024  # a few hundred hosts; a larger file is not ours
STATE_VERSION = 1
URL_RULE = "ssh://[USER@]HOST[:PORT] (the host needs sshd and the docker CLI)"
SLUG_MAX = 40  # keeps <project>-celery-<slug>-N and the hostname <slug>-N under 63 characters


@dataclass(frozen=True)
class WorkerHost:
    """One remembered host: its URL and what the last ``worker add`` gave it."""

    url: str
    gpus: str
    image: str
    redis: str  # masked
    added_at: str

    @property
    def slug(self) -> str:
        return host_slug(self.url)


def parse_host_url(text: str) -> str:
    """``ssh://user@gpu-host:2222`` normalised; a UsageError (exit 2) with the rule otherwise."""
    from audiovoice_ops.core.dockerclient import check_docker_host
    from audiovoice_ops.core.errors import InvalidDockerHost

    value = text.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme != "ssh" or parts.path or parts.query or parts.fragment:
        raise UsageError(f"invalid worker host {text!r}", hint=f"a worker host is {URL_RULE}")
    try:
        check_docker_host(value)
    except InvalidDockerHost as exc:
        raise UsageError(
            f"invalid worker host {text!r}: {exc.message.partition(': ')[2]}",
            hint=f"a worker host is {URL_RULE}",
        ) from None
    user = f"{parts.username}@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    return f"ssh://{user}{host}{port}"


def host_slug(url: str) -> str:
    """``ssh://me@GPU-Host.lan:2222`` -> ``gpu-host-lan-2222``: for container names and hostnames."""
    parts = urlsplit(url)
    raw = f"{parts.hostname or ''}-{parts.port}" if parts.port else parts.hostname or ""
    slug = re.sub(r"[^a-z0-9]+", "-", raw.lower()).strip("-")
    return slug[:SLUG_MAX].strip("-") or "host"


class HostBook:
    """The state file: read on use, written whole (atomically, mode 600) on each change."""

    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def beside(cls, env_file: Path) -> HostBook:
        return cls(env_file.parent / STATE_FILE)

    def hosts(self) -> list[WorkerHost]:
        from audiovoice_ops.core.limits import read_limited

        try:
            raw = read_limited(self.path, MAX_STATE_BYTES, "worker host file", ConfigError)
        except FileNotFoundError:
            return []
        try:
            data = json.loads(raw)
            return [WorkerHost(**entry) for entry in data["hosts"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"worker host file {self.path} is not avops's format: {exc}",
                hint="fix or remove it (it only remembers the hosts of `avops worker add`)",
            ) from None

    def find(self, text: str) -> WorkerHost:
        """The host ``text`` names (its URL, or its host name when only one matches)."""
        hosts = self.hosts()
        wanted = text.strip().rstrip("/")
        try:
            url = parse_host_url(wanted)
        except UsageError:
            url = None
        matches = [h for h in hosts if h.url == url] or [
            h for h in hosts if urlsplit(h.url).hostname == wanted or h.slug == wanted
        ]
        if len(matches) == 1:
            return matches[0]
        known = ", ".join(h.url for h in hosts) or "none"
        why = "names several worker hosts" if matches else "is no worker host"
        raise UsageError(f"{text!r} {why} (known: {known})", hint="`avops worker ls` lists them")

    def remember(self, host: WorkerHost) -> None:
        self._write([h for h in self.hosts() if h.url != host.url] + [host])

    def forget(self, url: str) -> None:
        self._write([h for h in self.hosts() if h.url != url])

    def _write(self, hosts: list[WorkerHost]) -> None:
        payload = {"version": STATE_VERSION, "hosts": [asdict(h) for h in hosts]}
        fd, temp = tempfile.mkstemp(prefix=".avops-hosts-", dir=self.path.parent)
        with os.fdopen(fd, "w") as handle:  # mkstemp: mode 600
            json.dump(payload, handle, indent=2)
            handle.write("\n")
        os.replace(temp, self.path)
