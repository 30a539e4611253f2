"""Keep-alive benchmark (results: bench/RESULTS.md, section "## keep-alive").

    .venv/bin/python bench/bench_keep_alive.py [--jobs 8] [--interval 2]

Jobs arrive every --interval seconds, one engine per worker as in production, tiny models on the
CPU (the real loaders, checkpoints read from disk). Three residency policies, interleaved job by
job so the host's noise hits them alike:

* ``keep 0, free``: MODEL_KEEP_ALIVE=0 with VRAM_OFFLOAD=none (LOW_VRAM that frees): every job
  reads the checkpoint again;
* ``keep 0, park``: MODEL_KEEP_ALIVE=0 with VRAM_OFFLOAD=cpu (LOW_VRAM's default): every job
  swaps the parked copy back (on a CPU the swap is nearly free; on a GPU it is a host-to-device
  copy, see "## engines" for that ratio on F5-TTS's real size);
* ``keep 30``: MODEL_KEEP_ALIVE=30: the model stays between jobs that arrive within 30 s.

Reported per policy and engine: median per-job load time and median per-job total (load +
inference), and the ratio of each to ``keep 0, free`` measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import logging  # noqa: E402  (after the sys.path line: run as a script)

logging.disable(logging.WARNING)

POLICIES = {
    "keep 0, free": {"model_keep_alive": 0, "vram_offload": "none"},
    "keep 0, park": {"model_keep_alive": 0, "vram_offload": "cpu"},
    "keep 30": {"model_keep_alive": 30, "vram_offload": "cpu"},
}
TEXT = "Hello world, this is a keep-alive benchmark."


def make_engines(models: dict, ref_wav: Path, engine_name: str) -> dict:
    from engines import get_engine
    from engines.settings import load_settings
    from engines.vram import VramManager

    paths = {k.lower(): v for k, v in models.items()}
    workers = {}
    for label, policy in POLICIES.items():
        settings = load_settings(**paths, **policy, f5tts_device="cpu", xtts_device="cpu")
        engine = get_engine(engine_name, settings=settings, vram_manager=VramManager(settings))
        voice = engine.prepare_voice(ref_wav, ref_text="this is the reference clip.", language="en")
        workers[label] = (engine, voice)
    return workers


def run(engine_name: str, models: dict, ref_wav: Path, jobs: int, interval: float) -> list[dict]:
    workers = make_engines(models, ref_wav, engine_name)
    profile = f"{engine_name}_fast"
    samples: dict[str, dict[str, list[float]]] = {
        label: {"load": [], "total": []} for label in POLICIES
    }
    for _ in range(jobs):
        round_start = time.monotonic()
        for label, (engine, voice) in workers.items():
            started = time.perf_counter()
            result = engine.synthesize(TEXT, voice, language="en", profile=profile)
            samples[label]["total"].append(time.perf_counter() - started)
            samples[label]["load"].append(result.timings.get("load_s", 0.0))
        time.sleep(max(0.0, interval - (time.monotonic() - round_start)))
    base = {k: statistics.median(v) for k, v in samples["keep 0, free"].items()}
    rows = []
    for label, by_kind in samples.items():
        load, total = statistics.median(by_kind["load"]), statistics.median(by_kind["total"])
        stats = workers[label][0].vram.snapshot()
        rows.append(
            {
                "engine": engine_name,
                "policy": label,
                "median_load_ms": round(load * 1000, 1),
                "median_total_ms": round(total * 1000, 1),
                "load_ratio": round(load / base["load"], 3) if base["load"] else None,
                "total_ratio": round(total / base["total"], 3),
                "loads": stats.loads,
                "cache_hits": stats.cache_hits,
                "swaps_in": stats.swaps_in,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between arrivals")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)  # one core per worker, as the engines get in a small container
    from engines.testing import build_tiny_models, write_test_wav

    with tempfile.TemporaryDirectory() as tmp:
        models = build_tiny_models(Path(tmp) / "models")
        ref_wav = Path(tmp) / "ref.wav"
        write_test_wav(ref_wav, seconds=3.0)
        rows = []
        for engine_name in ("f5tts", "xtts"):
            rows += run(engine_name, models, ref_wav, args.jobs, args.interval)
    print(json.dumps({"jobs": args.jobs, "interval_s": args.interval, "rows": rows}, indent=2))
    print()
    print(
        "| engine | policy | median load | median job | load ratio | job ratio | loads / hits / swaps |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['engine']} | {r['policy']} | {r['median_load_ms']} ms | {r['median_total_ms']} ms "
            f"| {r['load_ratio']} | {r['total_ratio']} | {r['loads']} / {r['cache_hits']} / "
            f"{r['swaps_in']} |"
        )


if __name__ == "__main__":
    main()
