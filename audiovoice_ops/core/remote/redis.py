"""The Redis URL a remote worker gets, and the rule that keeps its password off the wire.

A worker on another host reaches this stack's Redis over the network. In remote mode Redis is
published with TLS and an ACL user (docker/compose.remote-redis.yml), so the URL is
``rediss://user:password@host:port/db?ssl_ca_certs=...``. A plain ``redis://`` URL, or one without a
password, to a host other than loopback is refused unless ``--insecure-redis``: it would send the
job texts, the audio and the password in clear to whoever listens.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from audiovoice_ops.core.errors import AvopsError, ConfigError, UsageError
from engines.urls import mask_password as mask

VARIABLE = "WORKER_REDIS_URL"  # in the stack's .env: the URL remote workers get by default
SCHEMES = ("redis", "rediss")
SECURE_RULE = "remote workers need rediss:// (TLS) with a password"
INSECURE_OPTION = "--insecure-redis"
CA_FILE = (
    "ca.pem"  # in the stack's REDIS_TLS_DIR (docker/redis-tls-certs.sh): the default --redis-ca
)
MAX_CA_BYTES = 64 * 1024  # a CA bundle of a few certificates
SETUP_HINT = (
    "publish Redis with TLS and an ACL user (docker/compose.remote-redis.yml) and set "
    f"{VARIABLE}=rediss://USER:PASSWORD@HOST:PORT/0?ssl_ca_certs=... in .env, or pass --redis-url"
)


def worker_redis_url(given: str | None, variables: Mapping[str, str], insecure: bool) -> str:
    """``--redis-url``, else ``WORKER_REDIS_URL`` of the .env, checked. A bad option is exit 2, a
    bad .env value exit 3, a missing one exit 3 with the setup."""
    if given:
        return check_redis_url(given, "--redis-url", UsageError, insecure)
    from_env = (variables.get(VARIABLE) or "").strip()
    if not from_env:
        raise ConfigError(f"no Redis URL for remote workers: {VARIABLE} is not set", SETUP_HINT)
    return check_redis_url(from_env, VARIABLE, ConfigError, insecure)


def check_redis_url(url: str, source: str, error: type[AvopsError], insecure: bool) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise error(f"invalid {source} {mask(url)!r}: not redis:// or rediss://HOST", SETUP_HINT)
    try:
        _ = parts.port
    except ValueError:
        raise error(
            f"invalid {source} {mask(url)!r}: the port is not a number", SETUP_HINT
        ) from None
    protected = parts.scheme == "rediss" and bool(parts.password)
    if not protected and not insecure and not is_loopback(parts.hostname):
        missing = "is plain redis://" if parts.scheme == "redis" else "has no password"
        raise error(
            f"refusing {source} {mask(url)}: it {missing}, and {SECURE_RULE} "
            f"({INSECURE_OPTION} to allow it on a trusted network)",
            SETUP_HINT,
        )
    return url.strip()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def worker_ca(given: Path | None, url: str, variables: Mapping[str, str]) -> bytes | None:
    """The CA certificate the remote workers verify Redis with: ``--redis-ca``, else
    ``$REDIS_TLS_DIR/ca.pem`` of the .env for a rediss:// URL when that file exists; None for a
    plain URL or none found (then the URL's own ``ssl_ca_certs`` or the image's CAs apply)."""
    if given is None:
        tls_dir = (variables.get("REDIS_TLS_DIR") or "").strip()
        found = Path(tls_dir) / CA_FILE if tls_dir else None
        if not url.startswith("rediss://") or found is None or not found.is_file():
            return None
        return read_ca(found, "REDIS_TLS_DIR", ConfigError)
    if not url.startswith("rediss://"):
        raise UsageError("--redis-ca needs a rediss:// Redis URL (TLS)", SETUP_HINT)
    return read_ca(given, "--redis-ca", UsageError)


def read_ca(path: Path, source: str, error: type[AvopsError]) -> bytes:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CA_BYTES + 1)
    except OSError as exc:
        raise error(f"{source}: cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_CA_BYTES or b"-----BEGIN CERTIFICATE-----" not in data:
        raise error(
            f"{source}: {path} is not a PEM CA certificate",
            hint="the ca.pem that docker/redis-tls-certs.sh made",
        )
    return data


def with_ca_path(url: str, path: str) -> str:
    """``url`` with ``ssl_ca_certs`` set to ``path`` (the CA's place inside the worker)."""
    parts = urlsplit(url)
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "ssl_ca_certs"
    ]
    return urlunsplit(parts._replace(query=urlencode([*query, ("ssl_ca_certs", path)])))
