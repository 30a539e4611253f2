"""``GET /metrics``: Prometheus exposition (``service.metrics``), for an admin key or METRICS_TOKEN.

METRICS_TOKEN lets Prometheus scrape with a token that opens nothing else (its scrape config's
``authorization: {type: Bearer, credentials_file: ...}``). The key guard lets /metrics through
(``service.auth.PUBLIC_PATHS``) because that token is not an API key; this route checks it.
"""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials

from service import metrics
from service.auth import KeyRing, bearer_scheme, get_keyring
from service.deps import SettingsDep
from service.routes.responses import ERRORS


def metrics_reader(
    settings: SettingsDep,
    credentials: Optional[HTTPAuthorizationCredentials] = Depends(bearer_scheme),
) -> None:
    """An admin key or a METRICS_TOKEN (on an open API, ALLOW_UNAUTHENTICATED: anyone)."""
    keyring = get_keyring()
    token = credentials.credentials if credentials else None
    if keyring.open or KeyRing(settings.metrics_token_digests, (), False).identify(token):
        return
    principal = keyring.identify(token)
    if principal is None:
        raise HTTPException(
            401,
            "/metrics needs an admin key or METRICS_TOKEN: send `Authorization: Bearer <token>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not principal.admin:
        raise HTTPException(
            403, "this API key is not an admin key (ADMIN_API_KEYS) or METRICS_TOKEN"
        )


router = APIRouter(tags=["Metrics"])


@router.get(
    "/metrics",
    response_class=Response,
    dependencies=[Depends(metrics_reader)],
    responses={
        200: {
            "content": {"text/plain": {}, "application/openmetrics-text": {}},
            "description": "Prometheus text format (or OpenMetrics, by Accept)",
        },
        401: ERRORS[401],
        403: ERRORS[403],
    },
    summary="Prometheus metrics (admin key or METRICS_TOKEN)",
)
def get_metrics(request: Request) -> Response:
    body, content_type = metrics.render(request.headers.get("accept"))
    return Response(body, media_type=content_type)
