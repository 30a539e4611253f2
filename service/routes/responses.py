"""The error responses each route documents in the OpenAPI schema."""

from __future__ import annotations

from fastapi import Path as PathParam

from service.schemas import ErrorResponse

ERRORS: dict[int, dict] = {
    code: {"model": ErrorResponse}
    for code in (400, 401, 403, 404, 409, 413, 415, 422, 429, 503, 507)
}
ERRORS[401]["description"] = "Missing or invalid API key (`WWW-Authenticate: Bearer`)"
ERRORS[403]["description"] = "Valid API key, but not an admin key"
ERRORS[429]["description"] = "Per-key submission rate exceeded; see `Retry-After` (seconds)"
ERRORS[503]["description"] = (
    "Queue or job store unavailable, or the queue is full; see `Retry-After`"
)
ERRORS[507]["description"] = "The data volume is full; nothing of the upload was kept"
AUTH = (401, 413, 422)  # every protected route: the guard answers 401/413 before it runs


def errors(*codes: int) -> dict:
    return {c: ERRORS[c] for c in (*AUTH, *codes)}


def openai_errors(*codes: int) -> dict:
    """/v1 answers in OpenAI's error shape, and a request it cannot serve is a 400, not a 422."""
    from service.openai_schemas import OpenAIErrorResponse

    wanted = sorted({400, 401, 413, *codes})
    return {c: {**ERRORS[c], "model": OpenAIErrorResponse} for c in wanted}


def id_param(what: str):
    # Validated in the handlers (anything but a generated UUID is a 404, never a path); the
    # schema says what ids look like.
    return PathParam(
        ...,
        description=f"A {what} id as returned by the API (a UUID).",
        json_schema_extra={"format": "uuid"},
    )
