"""A real HTTP server on a free local port standing in for the audio-voice API's ``/health``,
``/admin/vram`` (the contract: ``engines.contracts.VramResponse``, ``{"vram": VramManager.stats(),
"timestamp": <UTC ISO>, "age_seconds": ...}``) and ``/admin/models`` (built from the same stats
by the API's own ``service.models_admin.worker_models``, unless a test gives its own answer)."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def vram_stats(
    low_vram: bool = True,
    models: list[dict] | None = None,
    device: str = "cuda",
    allocated_mb: float = 0.0,
) -> dict[str, Any]:
    """A ``VramManager.stats()`` dict (engines/vram.py)."""
    return dict(
        available=device == "cuda",
        low_vram_mode=low_vram,
        offload="cpu",
        device=device,
        allocated_mb=allocated_mb,
        reserved_mb=allocated_mb + 64.0,
        free_mb=3000.0,
        total_mb=4096.0,
        reserve_mb=512.0,
        resident_models=models or [],
        loads=3,
        unloads=3,
        evictions=0,
        oom_recoveries=0,
        cache_hits=1,
        swaps_in=2,
        cpu_fallbacks=0,
        mean_load_s=2.5,
        mean_swap_s=0.4,
    )


class FakeApi:
    def __init__(
        self,
        stats: dict[str, Any] | None = None,
        age_seconds: float = 0.5,
        health_status: int = 200,
        api_key: str | None = None,
        voices: list[dict] | None = None,
        models: dict[str, Any] | None = None,
    ):
        self.stats = stats if stats is not None else vram_stats()
        self.age_seconds = age_seconds
        self.health_status = health_status
        self.api_key = (
            api_key  # set: /admin/vram needs `Authorization: Bearer <api_key>` (else 401)
        )
        self.voices = voices or []  # GET /voices (an admin key's view: each with its owner)
        self.models = models  # GET /admin/models; None: derived from `stats`
        self.requests: list[str] = []
        self.authorization: list[str | None] = []  # the Authorization header of each request
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # BaseHTTPRequestHandler's name
                api.requests.append(self.path)
                api.authorization.append(self.headers.get("Authorization"))
                if (
                    api.api_key
                    and self.path != "/health"
                    and self.headers.get("Authorization") != f"Bearer {api.api_key}"
                ):
                    self._send(401, {"detail": "invalid API key"})
                elif self.path == "/health":
                    self._send(
                        api.health_status, {"status": "ok" if api.health_status == 200 else "error"}
                    )
                elif self.path == "/voices":
                    self._send(200, {"voices": api.voices})
                elif self.path == "/admin/models":
                    self._send(200, api.models if api.models is not None else api.models_view())
                elif self.path == "/admin/vram":
                    published = datetime.fromtimestamp(time.time() - api.age_seconds, timezone.utc)
                    self._send(
                        200,
                        {
                            "vram": api.stats,
                            "timestamp": published.isoformat(),
                            "age_seconds": api.age_seconds,
                        },
                    )
                else:
                    self._send(404, {"detail": "Not Found"})

            def _send(self, status: int, body: dict) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def models_view(self) -> dict[str, Any]:
        from engines.contracts import VramResponse
        from service.models_admin import worker_models

        report = VramResponse(vram=self.stats, age_seconds=self.age_seconds, worker="celery@fake")
        return {"workers": [worker_models(report).model_dump()]}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeApi:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
