"""Client-side steps shared by the E2E tests and the benchmark."""

from __future__ import annotations

import io
import time

import httpx
import numpy as np
import soundfile as sf

REF_TEXT = "this is a short reference sentence"


def wav_bytes(seconds: float = 2.0, sample_rate: int = 22050, freq: float = 220.0) -> bytes:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    rng = np.random.default_rng(0)
    tone = 0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(t.shape)
    buf = io.BytesIO()
    sf.write(buf, tone.astype(np.float32), sample_rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def clone(
    c: httpx.Client,
    data: bytes | None = None,
    ref_text: str | None = REF_TEXT,
    language: str = "pt-BR",
    name: str = "TesteLowVRAM",
) -> httpx.Response:
    form = {"language": language, "voice_name": name}
    if ref_text is not None:
        form["ref_text"] = ref_text
    return c.post(
        "/voices/clone",
        data=form,
        files={"audio": ("Teste.wav", data if data is not None else wav_bytes(), "audio/wav")},
    )


def post_job(c: httpx.Client, voice_id: str, text: str, language: str = "pt-BR", **fields):
    """POST /jobs for ``voice_id``; the response (the caller checks its status)."""
    body = {"text": text, "language": language, "voice_id": voice_id, **fields}
    return c.post("/jobs", json=body)


def wait_job(c: httpx.Client, job_id: str, timeout: float = 180, until=("completed", "failed")):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = c.get(f"/jobs/{job_id}").json()
        if info["status"] in until:
            return info
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} not in {until} after {timeout} s: {info}")


def ready_voice(c: httpx.Client, **kw) -> str:
    r = clone(c, **kw)
    assert r.status_code == 202, r.text
    body = r.json()
    info = wait_job(c, body["job_id"])
    assert info["status"] == "completed", info
    assert c.get(f"/voices/{body['voice_id']}").json()["status"] == "ready"
    return body["voice_id"]
