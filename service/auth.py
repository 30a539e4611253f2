"""API-key authentication: ``Authorization: Bearer <key>``, keys from API_KEYS / ADMIN_API_KEYS.

* Keys are held only as SHA-256 digests (``.env`` may hold ``sha256:<hex>`` digests instead of
  the keys themselves); a presented key is hashed and compared with every stored digest in
  constant time (``hmac.compare_digest``, no early exit).
* ``require_client``: any key (admin keys included); missing or wrong key -> 401 with
  ``WWW-Authenticate: Bearer``. ``require_admin``: an admin key; a valid client key -> 403.
* ``RequestGuard`` (ASGI middleware) checks the key *before* the body is read, so an
  anonymous client cannot make the API spool an upload, and caps every request body
  (MAX_UPLOAD_MB for /voices/clone, MAX_JSON_BODY_KB elsewhere), counting bytes as they
  arrive: a declared Content-Length over the cap is refused unread, a chunked body is cut
  off with 413 as soon as it passes the cap.
* Ownership (``Principal.may_see``): a client key sees only the voices and jobs it made; an
  admin key sees all. Others' ids answer 404, like unknown ones.
* No key configured: every protected route answers 401, and the API refuses to start
  (see ``service.api._startup``) unless ALLOW_UNAUTHENTICATED=true, in which case
  everything is open (rate limits then apply per client address).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping, Optional

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.settings import ServiceSettings, get_service_settings

# Routes anyone may call: container healthchecks and the API's own documentation; /metrics
# checks its own credential (an admin key or METRICS_TOKEN, which is no API key).
PUBLIC_PATHS = frozenset(
    {"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/metrics"}
)
UPLOAD_PATHS = frozenset({"/voices/clone"})
MULTIPART_OVERHEAD = 64 * 1024  # form fields and part headers around the audio file

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key from API_KEYS (or ADMIN_API_KEYS for /admin/*), "
    "sent as `Authorization: Bearer <key>`.",
)


ANONYMOUS_PREFIX = "anon:"  # key_id of callers of an open API (ALLOW_UNAUTHENTICATED)


@dataclass(frozen=True)
class Principal:
    key_id: str  # first 16 hex digits of the key's SHA-256: logs, rate-limit buckets, owner
    admin: bool

    @property
    def owner(self) -> Optional[str]:
        """What voices and jobs record as their owner: the key id; None on an open API (no
        key owns what an anonymous caller made: admin keys see it, client keys do not)."""
        return None if self.key_id.startswith(ANONYMOUS_PREFIX) else self.key_id

    def may_see(self, owner: Optional[str]) -> bool:
        """Ownership, the one rule: a client key sees what it owns, an admin key sees all
        (unowned voices and jobs from before owners were recorded included)."""
        return self.admin or (owner is not None and owner == self.owner)


class KeyRing:
    def __init__(
        self, client: tuple[bytes, ...], admin: tuple[bytes, ...], allow_unauthenticated: bool
    ) -> None:
        self.admin = tuple(dict.fromkeys(admin))
        self.all = tuple(dict.fromkeys(client + admin))  # admin keys are client keys too
        self.open = not self.all and allow_unauthenticated

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> "KeyRing":
        return cls(
            settings.client_key_digests, settings.admin_key_digests, settings.allow_unauthenticated
        )

    @staticmethod
    def _member(digest: bytes, digests: tuple[bytes, ...]) -> bool:
        found = False
        for stored in digests:  # no early exit: the time does not depend on which key matched
            found |= hmac.compare_digest(digest, stored)
        return found

    def identify(self, key: Optional[str]) -> Optional[Principal]:
        """The principal for a presented key, or None when it is missing or unknown."""
        if not key:
            return None
        digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()
        if not self._member(digest, self.all):
            return None
        return Principal(digest.hex()[:16], self._member(digest, self.admin))


@lru_cache(maxsize=1)
def get_keyring() -> KeyRing:
    return KeyRing.from_settings(get_service_settings())


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def _check(keyring: KeyRing, key: Optional[str], client_host: str) -> Principal:
    if keyring.open:
        return Principal(f"{ANONYMOUS_PREFIX}{client_host}", True)
    if not keyring.all:
        raise _unauthorized("no API keys are configured on the server (API_KEYS)")
    if not key:
        raise _unauthorized("missing API key: send `Authorization: Bearer <key>`")
    principal = keyring.identify(key)
    if principal is None:
        raise _unauthorized("invalid API key")
    return principal


def _host(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def require_client(
    request: Request, credentials: Optional[HTTPAuthorizationCredentials] = Depends(bearer_scheme)
) -> Principal:
    """Any caller allowed to submit jobs and manage voices (client or admin key)."""
    return _check(get_keyring(), credentials.credentials if credentials else None, _host(request))


def require_admin(principal: Principal = Depends(require_client)) -> Principal:
    """Callers allowed on /admin/* routes (an ADMIN_API_KEYS key)."""
    if not principal.admin:
        raise HTTPException(403, "this API key is not an admin key (ADMIN_API_KEYS)")
    return principal


def optional_principal(
    request: Request, credentials: Optional[HTTPAuthorizationCredentials] = Depends(bearer_scheme)
) -> Optional[Principal]:
    """For open routes that show more to an identified caller (/health details)."""
    keyring = get_keyring()
    if keyring.open:
        return Principal(f"{ANONYMOUS_PREFIX}{_host(request)}", True)
    return keyring.identify(credentials.credentials if credentials else None)


# --------------------------------------------------------------------------- ASGI guard
def _bearer_from_scope(scope) -> Optional[str]:
    for name, value in scope.get("headers") or ():
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


async def _send_error(
    send, path: str, status: int, message: str, headers: Optional[Mapping[str, str]] = None
) -> None:
    # The guard answers before the app's handlers run, so it speaks /v1's OpenAI shape itself.
    from service.errorhandlers import OPENAI_PREFIX, openai_error

    body = openai_error(message, status) if path.startswith(OPENAI_PREFIX) else {"detail": message}
    raw = json.dumps(body).encode()
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(raw)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})


class RequestGuard:
    """Authenticate before the body is read; cap the body while it is read."""

    def __init__(self, app) -> None:
        self.app = app

    def body_cap(self, path: str, settings: ServiceSettings) -> tuple[int, str]:
        if path in UPLOAD_PATHS:
            return settings.max_upload_bytes + MULTIPART_OVERHEAD, "MAX_UPLOAD_MB"
        return settings.max_json_body_bytes, "MAX_JSON_BODY_KB"

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = get_service_settings()
        path = scope.get("path", "")
        if path not in PUBLIC_PATHS:
            client = scope.get("client") or ("unknown", 0)
            try:
                _check(get_keyring(), _bearer_from_scope(scope), client[0])
            except HTTPException as exc:
                await _send_error(send, path, exc.status_code, exc.detail, exc.headers)
                return
        cap, setting = self.body_cap(path, settings)
        too_large = f"request body exceeds {cap / 1024:.0f} KiB ({setting})"
        for name, value in scope.get("headers") or ():
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_error(send, path, 400, "invalid Content-Length")
                    return
                if declared > cap:
                    await _send_error(send, path, 413, too_large, {"Connection": "close"})
                    return
        received = 0
        responded = False

        async def capped_receive():
            nonlocal received, responded
            message = await receive()
            if message["type"] == "http.request" and not responded:
                received += len(message.get("body", b""))
                if received > cap:  # chunked body past the cap: answer now, stop reading
                    responded = True
                    await _send_error(send, path, 413, too_large, {"Connection": "close"})
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message) -> None:
            if not responded:  # after our 413 the app's own answer is dropped
                await send(message)

        try:
            await self.app(scope, capped_receive, guarded_send)
        except Exception:
            if not responded:
                raise
