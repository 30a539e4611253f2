"""Redis published on the host: only with a password (ACL) and TLS.

Redis holds the job queue, every job record and the audio in flight (service/blobs.py): whoever
reaches it unauthenticated can read voices, run jobs on the GPU or wipe the queue. The stack keeps
it on the project network; workers on other hosts reach it through the remote mode
(docker/compose.remote-redis.yml: a TLS port, ACL users with passwords). A published port is read
from the compose file and from the running containers (a stack started with an override file).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from audiovoice_ops.core.doctor.report import FAIL, PASS, SKIPPED, WARN, Check
from audiovoice_ops.core.doctor.sources import Sources
from audiovoice_ops.core.errors import AvopsError

CHECK_ID, GROUP = "security.redis", "security"
TITLE = "Redis published only with a password and TLS"
AUTH_FLAGS = ("--requirepass", "--aclfile", "--user")
DEFAULT_PORT = 6379
REMOTE_MODE = (
    "docker compose -f docker/compose.yml -f docker/compose.remote-redis.yml up -d "
    "(TLS port, ACL users with passwords; certificates from docker/redis-tls-certs.sh)"
)
FIX_UNAUTHENTICATED = (
    "remove ports: from the redis service (workers on this host use the project network); for "
    f"workers on other hosts use the remote mode: {REMOTE_MODE}"
)
FIX_PLAINTEXT = f"publish only Redis's TLS port, as the remote mode does: {REMOTE_MODE}"


@dataclass
class Exposure:
    """One published Redis: where, and what its command line says about auth and TLS."""

    where: str  # "redis 0.0.0.0:6379 (compose file)" or "(container NAME)"
    target: int  # the container port
    command: list[str]

    @property
    def words(self) -> list[str]:
        # A command may be a shell script (sh -c "... redis-server --aclfile ..."): its words.
        return " ".join(self.command).split()

    @property
    def authenticated(self) -> bool:
        return any(word.split("=")[0] in AUTH_FLAGS for word in self.words)

    @property
    def tls(self) -> bool:
        """Only the TLS port is published (not the plain one next to it)."""
        return self.target == _flag_port(self.words, "--tls-port") != _plain_port(self.words)


def _flag_port(words: list[str], flag: str) -> int | None:
    for index, word in enumerate(words[:-1]):
        if word == flag and re.fullmatch(r"\d+", words[index + 1]):
            return int(words[index + 1])
    return None


def _plain_port(words: list[str]) -> int:
    port = _flag_port(words, "--port")
    return DEFAULT_PORT if port is None else port


def _is_redis(name: str, image: str | None) -> bool:
    return name == "redis" or "redis" in (image or "").rsplit("/", 1)[-1].split(":")[0]


def _file_exposures(src: Sources) -> list[Exposure]:
    found = []
    for name, svc in src.stack.services.items():
        if not _is_redis(name, svc.image):
            continue
        command = [*(svc.entrypoint or []), *(svc.command or [])]
        for port in svc.ports:
            if port.published is not None or port.host_ip:
                where = f"{port.host_ip or '0.0.0.0'}:{port.published or port.target}"
                found.append(Exposure(f"{name} {where} (compose file)", port.target, command))
    return found


def _container_exposures(src: Sources) -> list[Exposure]:
    if src.client is None or src.inventory is None:
        return []
    found = []
    for view in src.inventory.all_project_containers:
        if not _is_redis(view.service or "", view.image):
            continue
        attrs = src.client.api.inspect_container(view.id)
        config = attrs.get("Config") or {}
        command = [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]
        ports = (attrs.get("NetworkSettings") or {}).get("Ports") or {}
        for spec, bindings in ports.items():
            for binding in bindings or []:
                where = f"{binding.get('HostIp') or '0.0.0.0'}:{binding.get('HostPort')}"
                target = int(spec.split("/")[0])
                found.append(Exposure(f"{view.name} {where} (container)", target, command))
    return found


def _url_has_credentials(src: Sources) -> bool:
    """REDIS_URL with a password, in .env or a service's environment: Redis asks for one."""
    urls = [src.stack.variables.get("REDIS_URL", "")]
    for name in src.stack.services:
        try:
            urls.append(src.stack.effective_environment(name).get("REDIS_URL", ""))
        except (OSError, AvopsError):  # an unreadable env_file: reported by the env checks
            continue
    return any(urlsplit(url).password for url in urls if url)


def check_redis_exposure(src: Sources) -> Check:
    if not any(_is_redis(n, s.image) for n, s in src.stack.services.items()):
        return Check(CHECK_ID, GROUP, TITLE, SKIPPED, "no Redis service in the compose file")
    exposures = _file_exposures(src) + _container_exposures(src)
    if not exposures:
        return Check(
            CHECK_ID, GROUP, TITLE, PASS, "not published on the host (project network only)"
        )
    credentials = _url_has_credentials(src)
    open_ = [e.where for e in exposures if not (e.authenticated or credentials)]
    if open_:
        return Check(
            CHECK_ID,
            GROUP,
            TITLE,
            FAIL,
            f"published without a password: {', '.join(open_)} (no --requirepass/--aclfile/"
            "--user in its command, no credentials in REDIS_URL): whoever reaches the port "
            "reads every job and voice and can run or wipe the queue",
            FIX_UNAUTHENTICATED,
        )
    plaintext = [e.where for e in exposures if not e.tls]
    if plaintext:
        return Check(
            CHECK_ID,
            GROUP,
            TITLE,
            WARN,
            f"published without TLS: {', '.join(plaintext)}: passwords and audio cross the "
            "network in clear",
            FIX_PLAINTEXT,
        )
    return Check(
        CHECK_ID,
        GROUP,
        TITLE,
        PASS,
        f"TLS port with authentication: {', '.join(e.where for e in exposures)}",
    )
