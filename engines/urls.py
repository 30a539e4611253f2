"""How a URL with a password is shown (logs, error messages, avops's output): one rule for the
worker, the API and avops, which all print Redis URLs. Standard library only."""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit, urlunsplit

MASK = "***"


def mask_password(url: str) -> str:
    """``rediss://worker:secret@host:6380/0`` -> ``rediss://worker:***@host:6380/0``."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    user = quote(unquote(parts.username or ""), safe="")
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))
