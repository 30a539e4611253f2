"""A small client for the audio-voice API's operational endpoints (``GET /health``,
``GET /admin/vram``). httpx is imported lazily: the CLI's import stays light.

Every call answers an ``ApiResult`` (ok, status, data, error, latency) instead of raising, so the
callers (``vram``, ``doctor``) can show "API unreachable: ..." next to the other sources.
``health()`` and ``vram()`` also check the answer against the contract the API and the worker
share (``engines.contracts``, imported on first call: pydantic only) and put the typed model in
``ApiResult.parsed``; an answer that breaks the contract is not ok, with a one-line error.

Authentication: ``Authorization: Bearer <key>`` with ``AVOPS_API_KEY`` when set, else the first
entry of ``ADMIN_API_KEYS`` in the stack's ``.env`` (the admin key: ``/admin/vram`` and the
``/health`` details need one).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audiovoice_ops.core.settings import AvopsSettings, process_environment


@dataclass
class ApiResult:
    url: str
    ok: bool
    status: int | None = None
    data: Any = None
    error: str | None = None  # one line when not ok
    latency_s: float | None = None
    parsed: Any = None  # the contract model of `data` (HealthResponse, VramResponse) when ok

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "ok": self.ok,
            "status": self.status,
            "error": self.error,
            "latency_s": self.latency_s,
        }


class ApiClient:
    """One connection pool for many calls (``vram --watch`` polls every second)."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 3.0):
        import httpx

        self.base_url = base_url.rstrip("/")
        headers = {"Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)
        self._anonymous = httpx.Client(
            base_url=self.base_url, headers={"Accept": "application/json"}, timeout=timeout
        )

    @classmethod
    def from_settings(cls, settings: AvopsSettings) -> ApiClient:
        return cls(settings.api_url, resolve_api_key(settings), settings.api_timeout)

    def close(self) -> None:
        self._client.close()
        self._anonymous.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, path: str, authenticated: bool = True) -> ApiResult:
        return self.request("GET", path, authenticated=authenticated)

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        authenticated: bool = True,
        timeout: float | None = None,
    ) -> ApiResult:
        import httpx

        url = f"{self.base_url}{path}"
        client = self._client if authenticated else self._anonymous
        wait = client.timeout.read if timeout is None else timeout
        started = time.monotonic()
        try:
            extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
            response = client.request(method, path, params=params, **extra)
        except httpx.TimeoutException:
            return ApiResult(url, False, error=f"no answer from {url} within {wait}s")
        except httpx.HTTPError as exc:
            return ApiResult(url, False, error=f"cannot reach {url}: {_first_line(exc)}")
        latency = round(time.monotonic() - started, 4)
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400:
            return ApiResult(
                url,
                False,
                response.status_code,
                data,
                f"{url} answered HTTP {response.status_code}{_detail(data)}",
                latency,
            )
        if path != "/health" and not isinstance(data, dict):
            return ApiResult(
                url,
                False,
                response.status_code,
                None,
                f"{url} did not answer a JSON object",
                latency,
            )
        return ApiResult(url, True, response.status_code, data, None, latency)

    def health(self) -> ApiResult:
        """``GET /health``: ``engines.contracts.HealthResponse`` in ``parsed``."""
        from engines.contracts import HealthResponse

        return _parse(self.get("/health"), HealthResponse)

    def vram(self) -> ApiResult:
        """``GET /admin/vram``: ``engines.contracts.VramResponse`` (the worker's
        ``VramManager.stats()`` with who published it and its age) in ``parsed``."""
        from engines.contracts import VramResponse

        result = self.get("/admin/vram")
        if result.ok and result.data.get("vram") is None and "vram" in result.data:
            result.ok, result.error = (
                False,
                (
                    f"{result.url}: no worker has published VRAM stats yet "
                    "(worker not started, or not connected to Redis)"
                ),
            )
        elif result.ok and not isinstance(result.data.get("vram"), dict):
            result.ok, result.error = False, f"{result.url}: answer has no `vram` object"
        return _parse(result, VramResponse)

    def models(self) -> ApiResult:
        """``GET /admin/models``: ``engines.contracts.ModelsResponse`` in ``parsed``."""
        from engines.contracts import ModelsResponse

        return _parse(self.get("/admin/models"), ModelsResponse)

    def model_command(
        self, action: str, engine: str, wait_s: float, keep_alive: float | None = None
    ) -> ApiResult:
        """``load`` (POST .../load) or ``unload`` (DELETE): ``ModelCommandResponse`` in ``parsed``.
        The HTTP timeout covers the workers' wait."""
        from engines.contracts import ModelCommandResponse

        params: dict[str, Any] = {"wait_s": wait_s}
        if keep_alive is not None:
            params["keep_alive"] = keep_alive
        method, path = (
            ("POST", f"/admin/models/{engine}/load")
            if action == "load"
            else ("DELETE", f"/admin/models/{engine}")
        )
        result = self.request(method, path, params=params, timeout=wait_s + 10)
        return _parse(result, ModelCommandResponse)


def _detail(data: Any) -> str:
    """The API's one-line reason (``detail``, or OpenAI's ``error.message``), if it gave one."""
    if isinstance(data, dict):
        detail = data.get("detail")
        if isinstance(detail, str):
            return f": {detail}"
    return ""


def _parse(result: ApiResult, contract: Any) -> ApiResult:
    """Validate an ok answer against ``contract`` (a pydantic model) into ``result.parsed``."""
    from pydantic import ValidationError

    if not result.ok:
        return result
    try:
        result.parsed = contract.model_validate(result.data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(part) for part in err["loc"]) or "answer"
        result.ok, result.error = (
            False,
            (
                f"{result.url}: answer does not match the API contract "
                f"({where}: {err['msg']}); avops and the API differ in version?"
            ),
        )
    return result


def admin_key_from_env_file(env_file: Path) -> str | None:
    """The first usable entry of ADMIN_API_KEYS in ``env_file`` (a ``sha256:`` digest cannot be
    sent), or None when the file or the variable is missing."""
    from audiovoice_ops.core.envfile import read_env_file
    from audiovoice_ops.core.errors import AvopsError

    try:
        values = read_env_file(Path(env_file), process_environment())
    except AvopsError:
        return None
    for entry in values.get("ADMIN_API_KEYS", "").split(","):
        entry = entry.strip()
        if entry and not entry.lower().startswith("sha256:"):
            return entry
    return None


def resolve_api_key(settings: AvopsSettings) -> str | None:
    """AVOPS_API_KEY if set, else the stack's admin key from .env."""
    return settings.api_key or admin_key_from_env_file(settings.env_file)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
