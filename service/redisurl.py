"""REDIS_URL, read in one place: what the redis-py clients, Celery's broker and its result backend
get from it, how it is shown (password masked), and what a failed connection means in one line.

Two modes. On the project network: ``redis://redis:6379/0`` (no TLS, Redis not published). Remote
workers (docker/compose.remote-redis.yml): ``rediss://user:password@host:port/db?ssl_cert_reqs=
required&ssl_ca_certs=/path/ca.pem`` (optionally ssl_certfile/ssl_keyfile for a client
certificate, ssl_check_hostname=false). The ``ssl_*`` parameters are taken out of the URL and
handed to each client as options: kombu would otherwise fall back to no verification at all
for a rediss:// URL without them, and Celery's backend and redis-py spell their values
differently ("required" vs CERT_REQUIRED).
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import redis

from engines.urls import mask_password as mask
from service.settings import ServiceSettingsError

PLAIN, TLS, SOCKET = "redis", "rediss", "unix"
CERT_REQS = {"required": ssl.CERT_REQUIRED, "optional": ssl.CERT_OPTIONAL, "none": ssl.CERT_NONE}
# Without ssl_cert_reqs a rediss:// URL verifies the server: encryption without knowing who is at
# the other end would hand the worker's password to whoever answers.
DEFAULT_CERT_REQS = "required"
FILE_PARAMS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile")
SSL_PARAMS = ("ssl_cert_reqs", "ssl_check_hostname", *FILE_PARAMS)

# Remote mode: kombu's broker sockets have no timeout by default, so a TLS handshake with a
# plain port (which waits for a command line that never comes) or a host that vanished would
# block the worker forever instead of failing and retrying.
REMOTE_CONNECT_TIMEOUT_S = 10.0
REMOTE_SOCKET_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class RedisTarget:
    """REDIS_URL taken apart; ``url`` is what the clients connect to (no ssl_* parameters, which
    are in ``ssl_options``)."""

    url: str
    scheme: str
    host: str
    port: int
    db: str
    username: str | None
    has_password: bool
    ssl_options: dict[str, Any] = field(default_factory=dict)

    @property
    def tls(self) -> bool:
        return self.scheme == TLS

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def user(self) -> str:
        return self.username or "default"

    @property
    def masked(self) -> str:
        return mask(self.url)

    def redis_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``redis.Redis.from_url(target.url, ...)``."""
        return dict(self.ssl_options)

    def broker_timeouts(self) -> dict[str, float]:
        """Extra ``broker_transport_options`` for TLS (remote) mode; none on the project network."""
        if not self.tls:
            return {}
        return {
            "socket_connect_timeout": REMOTE_CONNECT_TIMEOUT_S,
            "socket_timeout": REMOTE_SOCKET_TIMEOUT_S,
        }

    def celery_ssl(self) -> dict[str, Any] | None:
        """``broker_use_ssl`` and ``redis_backend_use_ssl``: None for a plain connection."""
        return dict(self.ssl_options) if self.tls else None


def parse(url: str) -> RedisTarget:
    """REDIS_URL checked and taken apart; a mistake raises ServiceSettingsError naming it."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in (PLAIN, TLS, SOCKET):
        raise _bad(url, f"scheme {parts.scheme or '(none)'!r}: use redis:// or rediss:// (TLS)")
    query = parse_qsl(parts.query, keep_blank_values=True)
    ssl_given = {k: unquote(v) for k, v in query if k in SSL_PARAMS}
    if ssl_given and scheme != TLS:
        raise _bad(url, f"{', '.join(sorted(ssl_given))} needs a rediss:// URL (TLS)")
    try:
        port = parts.port or 6379
    except ValueError:
        raise _bad(url, "the port is not a number") from None
    db = parts.path.strip("/") or "0"
    if scheme != SOCKET and not db.isdigit():
        raise _bad(url, f"database {db!r} is not a number (redis://host:port/0)")
    rest = urlencode([(k, v) for k, v in query if k not in SSL_PARAMS])
    return RedisTarget(
        url=urlunsplit((scheme, parts.netloc, parts.path, rest, "")),
        scheme=scheme,
        host=parts.hostname or ("localhost" if scheme != SOCKET else parts.path),
        port=port,
        db=db,
        username=unquote(parts.username) if parts.username else None,
        has_password=bool(parts.password),
        ssl_options=_ssl_options(url, ssl_given) if scheme == TLS else {},
    )


def _ssl_options(url: str, given: dict[str, str]) -> dict[str, Any]:
    reqs = given.get("ssl_cert_reqs", DEFAULT_CERT_REQS).lower().removeprefix("cert_")
    if reqs not in CERT_REQS:
        raise _bad(url, f"ssl_cert_reqs={given['ssl_cert_reqs']!r}: use {', '.join(CERT_REQS)}")
    options: dict[str, Any] = {"ssl_cert_reqs": CERT_REQS[reqs]}
    for name in FILE_PARAMS:
        if name in given:
            if not os.access(given[name], os.R_OK):
                raise _bad(url, f"{name}: cannot read {given[name]}")
            options[name] = given[name]
    if "ssl_check_hostname" in given:
        options["ssl_check_hostname"] = given["ssl_check_hostname"].lower() not in ("false", "0")
    return options


def _bad(url: str, why: str) -> ServiceSettingsError:
    # The URL without its query: the message names the parameter at fault itself.
    return ServiceSettingsError(f"REDIS_URL ({mask(url.partition('?')[0])}): {why}")


# --------------------------------------------------------------------------- errors
def explain(exc: BaseException, target: RedisTarget, port_open: bool = False) -> str:
    """A failed connection in one line, for an operator: what was refused, by whom, what to do.
    Never the password (only the user name and the masked URL). ``port_open``: a TCP connection
    to the port works (tells a TLS handshake a plain port never answers from a host down)."""
    text = " ".join(str(exc).split())
    upper = text.upper()
    if isinstance(exc, redis.AuthenticationError) or any(m in upper for m in _AUTH_MARKERS):
        if not target.has_password:
            return "Redis requires a password and REDIS_URL gives none (NOAUTH)"
        return f"Redis refused the credentials for user {target.user!r} (WRONGPASS)"
    if "NOPERM" in upper:
        return f"user {target.user!r} lacks a permission on Redis (NOPERM): {text}"
    if target.tls and port_open and _is_timeout(text):
        return (
            f"TLS handshake with {target.where} got no answer: a plain (non-TLS) port? "
            "use the TLS port (REDIS_TLS_PORT)"
        )
    if _is_tls_failure(exc, text):
        return f"TLS handshake with {target.where} failed: {_tls_reason(text)}"
    if not target.tls and _closed_by_server(text):
        return (
            f"{target.where} closed the connection: a TLS port? use rediss:// "
            "with ssl_ca_certs (docker/compose.remote-redis.yml)"
        )
    return f"cannot reach Redis at {target.where}: {text or type(exc).__name__}"


# Refusals by the server's text, whichever exception class redis-py or kombu wrapped them in.
_AUTH_MARKERS = (
    "WRONGPASS",
    "INVALID USERNAME-PASSWORD",
    "NOAUTH",
    "AUTHENTICATION REQUIRED",
    "MUST BE CALLED WITH THE CLIENT ALREADY AUTHENTICATED",
)


def _is_tls_failure(exc: BaseException, text: str) -> bool:
    chain: BaseException | None = exc
    while chain is not None:
        if isinstance(chain, ssl.SSLError):
            return True
        chain = chain.__cause__ or chain.__context__
    return "SSL" in text or "CERTIFICATE" in text.upper()


def _tls_reason(text: str) -> str:
    """redis-py wraps the ssl error as ``Error 1 connecting to host:port. [SSL: X] reason (...)``:
    keep the part an operator acts on."""
    reason = text[text.find("[SSL") :] if "[SSL" in text else text
    reason = reason.split(" (_ssl.c")[0].rstrip(". ")
    for marker, hint in _TLS_HINTS:
        if marker in reason:
            return f"{reason} ({hint})"
    return reason


# What to do about the usual handshake failures.
_TLS_HINTS = (
    ("WRONG_VERSION_NUMBER", "a plain port? the TLS port is the one in REDIS_TLS_PORT"),
    ("RECORD_LAYER_FAILURE", "a plain port? the TLS port is the one in REDIS_TLS_PORT"),
    ("mismatch", "the server certificate lacks this host: docker/redis-tls-certs.sh OUT_DIR HOST"),
    (
        "CERTIFICATE_VERIFY_FAILED",
        "ssl_ca_certs= must name the ca.pem of docker/redis-tls-certs.sh",
    ),
)


def _is_timeout(text: str) -> bool:
    return "timeout" in text.lower() or "timed out" in text.lower()


def _closed_by_server(text: str) -> bool:
    lowered = text.lower()
    return "closed by server" in lowered or "connection reset" in lowered or _is_timeout(text)


def error_line(exc: BaseException, target: RedisTarget, port_open: bool = False) -> str:
    """The line the worker logs and the healthcheck prints."""
    return f"error: REDIS_URL ({target.masked}): {explain(exc, target, port_open)}"
