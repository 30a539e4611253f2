"""``/admin/models``: each worker's models, and warming or unloading them (admin keys only)."""

from __future__ import annotations

from typing import Annotated, Optional

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from engines.contracts import ModelCommandResponse, ModelsResponse
from engines.registry import ENGINE_NAMES, find_spec
from engines.settings import KEEP_ALIVE_RULE, KEEP_FOREVER, check_keep_alive
from service import models_admin
from service.auth import require_admin
from service.jsonbody import StrictJsonRoute
from service.redis_conn import get_redis
from service.routes.responses import errors

router = APIRouter(
    route_class=StrictJsonRoute,
    prefix="/admin/models",
    tags=["Admin"],
    dependencies=[Depends(require_admin)],
)

EngineName = Annotated[str, Path(description="An engine: " + ", ".join(ENGINE_NAMES))]
WaitS = Annotated[
    float,
    Query(
        gt=0,
        le=600,
        description="How long to wait for the workers' answers (a busy worker answers "
        "after its current job; the command still runs then).",
    ),
]


def _known(engine: str) -> str:
    spec = find_spec(engine)
    if spec is None:
        raise HTTPException(
            404, f"engine: no engine {engine!r}; engines: {', '.join(ENGINE_NAMES)}"
        )
    return spec.name


def _command(run) -> ModelCommandResponse:
    from service.celery_app import celery_app

    try:
        return run(celery_app)
    except models_admin.NoWorker as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": "5"}) from None


@router.get(
    "",
    response_model=ModelsResponse,
    responses=errors(403, 503),
    summary="Each worker's models: state, device, size, last use, keep-alive expiry",
)
def list_models() -> ModelsResponse:
    return models_admin.list_models(get_redis())


@router.post(
    "/{engine}/load",
    response_model=ModelCommandResponse,
    responses=errors(403, 404, 422, 503),
    summary="Warm a model on every worker",
)
def load_model(
    engine: EngineName,
    wait_s: WaitS = 120.0,
    keep_alive: Annotated[
        Optional[float],
        Query(
            ge=KEEP_FOREVER,
            description=f"Seconds it stays after loading ({KEEP_ALIVE_RULE}; capped at "
            "MODEL_KEEP_ALIVE_MAX); default MODEL_KEEP_ALIVE.",
        ),
    ] = None,
) -> ModelCommandResponse:
    engine = _known(engine)
    try:
        if keep_alive is not None:
            check_keep_alive(keep_alive)  # the settings' rule: -1, 0 or seconds > 0
    except ValueError:
        raise HTTPException(422, f"keep_alive: {KEEP_ALIVE_RULE}") from None
    return _command(lambda app: models_admin.load(app, engine, keep_alive, wait_s))


@router.delete(
    "/{engine}",
    response_model=ModelCommandResponse,
    responses=errors(403, 404, 503),
    summary="Take a model off the GPU on every worker now (VRAM_OFFLOAD rule)",
)
def unload_model(engine: EngineName, wait_s: WaitS = 60.0) -> ModelCommandResponse:
    engine = _known(engine)
    return _command(lambda app: models_admin.unload(app, engine, wait_s))
