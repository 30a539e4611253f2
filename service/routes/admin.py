"""``/admin/*``: operator views (admin keys only)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from service import vram_publish
from service.auth import require_admin
from service.jsonbody import StrictJsonRoute
from service.redis_conn import get_redis
from service.routes.responses import errors
from service.schemas import VramResponse

router = APIRouter(
    route_class=StrictJsonRoute,
    prefix="/admin",
    tags=["Admin"],
    dependencies=[Depends(require_admin)],
)


@router.get(
    "/vram",
    response_model=VramResponse,
    responses=errors(403, 503),
    summary="VRAM stats published by the worker",
)
def get_vram() -> VramResponse:
    latest = vram_publish.read_latest(get_redis())
    if latest is None:
        return VramResponse()  # no worker has started yet: every field null
    return VramResponse(**latest)
