"""The one error type request handling raises for bad input: a message naming the field, and the
HTTP status to answer with (422 unless said otherwise). The API turns it into ``{"detail": ...}``,
or into OpenAI's ``{"error": {...}}`` on ``/v1`` (``param`` and ``code`` are used there)."""

from __future__ import annotations

from typing import Optional


class Rejected(ValueError):
    def __init__(
        self,
        message: str,
        status: int = 422,
        *,
        param: Optional[str] = None,
        code: Optional[str] = None,
        headers: Optional[dict[str, str]] = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.param = param
        self.code = code
        self.headers = headers
