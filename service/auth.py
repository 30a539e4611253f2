"""Authentication slot: every route depends on one of these.

Open for now (issue 5); issue 7 replaces the bodies with API-key checks
(``Authorization: Bearer``; admin keys for ``/admin/*``) without touching the routes.
"""

from __future__ import annotations

from fastapi import Request


def require_client(request: Request) -> None:
    """Any caller allowed to submit jobs and manage voices."""
    return None


def require_admin(request: Request) -> None:
    """Callers allowed on /admin/* routes."""
    return None
