"""Run the API with uvicorn on API_HOST:API_PORT: ``python -m service.serve`` (the image's CMD).

A bad setting or a missing API key stops here, before uvicorn starts: one line, exit 2.
"""

from __future__ import annotations

from service.settings import get_service_settings
from service.startup import or_exit


def main() -> None:
    s = or_exit(get_service_settings)
    from service.api import _check_auth_configured  # the API's own rule, checked up front

    or_exit(lambda: _check_auth_configured(s, announce=False))  # the lifespan announces
    import uvicorn

    uvicorn.run("service.api:app", host=s.api_host, port=s.api_port, log_level=s.log_level.lower())


if __name__ == "__main__":
    main()
