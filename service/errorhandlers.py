"""How errors become responses: ``{"detail": ...}`` on the service's own routes, OpenAI's
``{"error": {"message", "type", "param", "code"}}`` on ``/v1`` so the OpenAI SDKs raise their
typed exceptions. Every error body must encode: request values are never echoed raw."""

from __future__ import annotations

from typing import Mapping, Optional

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.errors import Rejected

OPENAI_PREFIX = "/v1/"
# OpenAI's error `type` per status (its API reference and the SDK's exception classes).
OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_exceeded",
    503: "server_error",
    507: "server_error",
}
OPENAI_CODES = {401: "invalid_api_key", 429: "rate_limit_exceeded"}
# The service's field names (the first word of its messages) as OpenAI's request names them.
OPENAI_PARAMS = {"text": "input", "voice_id": "voice", "engine": "model"}


def install(app: FastAPI) -> None:
    @app.exception_handler(Rejected)
    async def _rejected(request: Request, exc: Rejected) -> Response:
        return error_response(
            request, str(exc), exc.status, headers=exc.headers, param=exc.param, code=exc.code
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code in (204, 304):  # no body allowed
            return Response(status_code=exc.status_code, headers=exc.headers)
        return error_response(request, exc.detail, exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        # One readable line ("text: Field required; ...") plus pydantic's structured errors.
        errors = validation_errors(exc)
        message = "; ".join(f"{e['field']}: {e['msg']}" for e in errors)
        if is_openai(request):  # OpenAI answers a malformed body with 400, naming the field
            return error_response(
                request, message, 400, param=errors[0]["field"] if errors else None
            )
        return error_response(request, message, 422, errors=errors)

    # Any Redis error (down, timed out, out of memory, a read-only replica, an ACL refusal) is
    # the store being unavailable to this request, never the client's fault: 503, not 500.
    @app.exception_handler(redis.exceptions.RedisError)
    async def _redis_down(request: Request, exc: Exception) -> Response:
        return error_response(
            request, f"job store (Redis) unavailable: {exc}", 503, headers={"Retry-After": "5"}
        )


def is_openai(request: Request) -> bool:
    return request.url.path.startswith(OPENAI_PREFIX)


def printable(value: object) -> str:
    # An error must always encode: text that is not valid Unicode (a lone surrogate from a
    # JSON escape) is shown escaped instead of failing the response with a 500.
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")


def error_response(
    request: Optional[Request],
    detail: object,
    status: int,
    headers: Optional[Mapping[str, str]] = None,
    param: Optional[str] = None,
    code: Optional[str] = None,
    **extra: object,
) -> JSONResponse:
    shown = printable(detail) if isinstance(detail, str) else detail
    if request is not None and is_openai(request):
        status = 400 if status == 422 else status  # OpenAI: a request it cannot serve is a 400
        param = param or _param_of(str(shown))
        return JSONResponse(
            openai_error(str(shown), status, param, code), status_code=status, headers=headers
        )
    return JSONResponse({"detail": shown, **extra}, status_code=status, headers=headers)


def _param_of(message: str) -> Optional[str]:
    field, sep, _ = message.partition(":")
    if not sep or not field.replace("_", "").isalnum():
        return None
    return OPENAI_PARAMS.get(field, field)


def openai_error(
    message: str, status: int, param: Optional[str] = None, code: Optional[str] = None
) -> dict:
    return {
        "error": {
            "message": message,
            "type": OPENAI_TYPES.get(status, "server_error"),
            "param": param,
            "code": code or OPENAI_CODES.get(status),
        }
    }


def validation_errors(exc: RequestValidationError) -> list[dict]:
    """pydantic's errors without ``input`` and ``ctx``: they hold the request's own values
    (NaN, undecodable text, a whole upload), which need not be JSON-encodable and are not
    echoed back. A body that is not JSON says why (``ctx.error``)."""
    errors = []
    for e in exc.errors():
        loc = [printable(x) for x in e.get("loc", ()) if x != "body"]
        msg = e.get("msg", "invalid")
        if e.get("type") == "json_invalid":
            loc, msg = [], f"not valid JSON: {(e.get('ctx') or {}).get('error', msg)}"
        errors.append(
            {
                "loc": loc,
                "field": ".".join(loc) or "body",
                "msg": printable(msg),
                "type": printable(e.get("type", "")),
            }
        )
    return errors
