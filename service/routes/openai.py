"""OpenAI-compatible routes under /v1 (being built: issue 12)."""

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"])
