"""The one error type request handling raises for bad input: a message naming the field, and the
HTTP status to answer with (422 unless said otherwise). The API turns it into ``{"detail": ...}``."""

from __future__ import annotations


class Rejected(ValueError):
    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status
