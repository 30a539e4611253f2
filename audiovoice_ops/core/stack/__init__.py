"""The stack model: ``docker/compose.yml`` loaded into pydantic models (the single source of truth)."""

from audiovoice_ops.core.stack.loader import Stack, load_stack
from audiovoice_ops.core.stack.model import ComposeFile, Service

__all__ = ["ComposeFile", "Service", "Stack", "load_stack"]
