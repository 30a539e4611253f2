"""Rendering: the live view's text for recorded snapshots, compared with golden files
(``UPDATE_GOLDEN=1`` rewrites them)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from rich.console import Console

from audiovoice_ops.commands.vram import memory_bar, render_frame
from tests.gpu.apiserver import vram_stats

GOLDEN = Path(__file__).parent / "golden"


def render_text(frame: dict) -> str:
    console = Console(record=True, width=110, color_system=None, force_terminal=False)
    console.print(render_frame(frame))
    return console.export_text()


def frame_of(snapshots: Path, name: str, api: dict | None) -> dict:
    gpu = json.loads((snapshots / f"{name}.json").read_text())
    return {"timestamp": 1764000000.0, "gpu": gpu, "api": api}


API_OK = {
    "url": "http://127.0.0.1:8005/admin/vram",
    "ok": True,
    "status": 200,
    "error": None,
    "latency_s": 0.002,
    "age_seconds": 1.25,
    "server_timestamp": 1764000000.0,
    "vram": vram_stats(
        low_vram=True,
        allocated_mb=2310.4,
        models=[
            dict(
                key="f5tts",
                device="cuda",
                size_mb=2300.0,
                parked=False,
                in_use=1,
                last_used_s_ago=0.4,
            ),
            dict(
                key="xtts",
                device="cpu",
                size_mb=1800.0,
                parked=True,
                in_use=0,
                last_used_s_ago=42.0,
            ),
        ],
    ),
}
API_DOWN = {
    "url": "http://127.0.0.1:8005/admin/vram",
    "ok": False,
    "status": None,
    "latency_s": None,
    "error": "cannot reach http://127.0.0.1:8005/admin/vram: [Errno 111] Connection refused",
    "vram": None,
    "age_seconds": None,
    "server_timestamp": None,
}


def with_container(frame: dict) -> dict:
    proc = frame["gpu"]["gpus"][0]["processes"][0]
    proc.update(container="audio-voice-celery", container_id="3252e9254342", service="celery")
    return frame


@pytest.mark.parametrize(
    "case, snapshot, api",
    [
        ("one_gpu_with_api", "one_gpu_processes", API_OK),
        ("multi_gpu_api_down", "multi_gpu", API_DOWN),
        ("no_driver_api_only", "no_driver", API_OK),
    ],
)
def test_live_view_text(snapshots, case, snapshot, api):
    frame = frame_of(snapshots, snapshot, api)
    if frame["gpu"]["gpus"]:
        frame = with_container(frame)
    text = render_text(frame)
    golden = GOLDEN / f"{case}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1" or not golden.exists():
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text()


def test_view_names_containers_and_sources(snapshots):
    text = render_text(with_container(frame_of(snapshots, "one_gpu_processes", API_OK)))
    assert "audio-voice-celery" in text and "(host)" in text
    assert "LOW_VRAM" in text and "f5tts on cuda" in text and "age 1.2s" in text
    down = render_text(frame_of(snapshots, "no_driver", API_DOWN))
    assert "no NVML reading" in down and "Connection refused" in down


@pytest.mark.parametrize(
    "used, total, filled", [(0, 100, 0), (50, 100, 12), (100, 100, 24), (150, 100, 24), (1, 0, 0)]
)
def test_memory_bar(used, total, filled):
    bar = memory_bar(used, total)
    assert len(bar) == 24 and bar.count("█") == filled
