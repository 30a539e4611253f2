"""Run the API with uvicorn on API_HOST:API_PORT: ``python -m service.serve`` (the image's CMD)."""

from __future__ import annotations

import uvicorn

from service.settings import get_service_settings


def main() -> None:
    s = get_service_settings()
    uvicorn.run("service.api:app", host=s.api_host, port=s.api_port, log_level=s.log_level.lower())


if __name__ == "__main__":
    main()
