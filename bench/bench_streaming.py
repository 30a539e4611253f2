"""Streaming benchmark (issue 12): first audio vs full time on ``POST /v1/audio/speech``.

    .venv/bin/python bench/bench_streaming.py [--runs 3] [--clients 8] [--format pcm]

Real processes on 127.0.0.1 (redis-server, uvicorn API, one Celery worker, normal mode so the
models stay loaded) with the tiny models of ``engines.testing``, CPU. The client is the official
``openai`` SDK. Per engine, interleaved run by run, the same 6-sentence text:

- stream: time to the first audio byte and to the last byte of ``/v1/audio/speech``
  (target: first byte <= 0.25x of the full time);
- jobs: today's ``POST /jobs`` -> poll ``GET /jobs/{id}`` (every 0.1 s) -> download the WAV;
  the ratio first audio (stream) / WAV in hand (jobs);
- direct: ``engine.synthesize`` of the same text in this process on the same reference (model
  warm), segmented as the stream is: the streaming overhead (Redis, relay, encoding) = full
  stream time / direct (target <= 1.10x); and segmented as a job is, to show what the stream's
  segmentation costs (tiny XTTS generates to its token cap, so every pass costs the same there).

Then ``--clients`` concurrent streaming clients (F5-TTS): all must complete; p50/p99 of their
first byte and of their full time (one worker: they queue, so this shows the queueing).
Medians of ``--runs`` after one warm-up run per engine. Prints markdown tables.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.service.helpers import ready_voice, wait_job  # noqa: E402  (after the sys.path line: run as a script)
from tests.service.procs import RedisServer, ServiceStack  # noqa: E402  (after the sys.path line: run as a script)
from tests.service.speech_client import openai_client, sentences  # noqa: E402  (after the sys.path line: run as a script)

ENGINES = ("f5tts", "xtts")
TEXT = sentences(6, "en")
LANGUAGE = "en"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def stream_once(client, engine: str, voice_id: str, fmt: str) -> dict:
    start = time.perf_counter()
    first = None
    size = 0
    with client.audio.speech.with_streaming_response.create(
        model=engine,
        voice=voice_id,
        input=TEXT,
        response_format=fmt,
        extra_body={"language": LANGUAGE},
    ) as resp:
        for chunk in resp.iter_bytes():
            if chunk and first is None:
                first = time.perf_counter() - start
            size += len(chunk)
    full = time.perf_counter() - start
    assert first is not None and size > 0, "no audio"
    return {"first": first, "full": full, "bytes": size}


def jobs_once(stack: ServiceStack, engine: str, voice_id: str) -> float:
    with stack.client() as c:
        start = time.perf_counter()
        r = c.post(
            "/jobs",
            json={"text": TEXT, "language": LANGUAGE, "voice_id": voice_id, "engine": engine},
        )
        assert r.status_code == 202, r.text
        info = wait_job(c, r.json()["job_id"])
        assert info["status"] == "completed", info
        wav = c.get(info["audio_url"])
        assert wav.status_code == 200 and wav.content
        return time.perf_counter() - start


class Direct:
    """The engines in this process, same tiny models and reference as the worker's."""

    def __init__(self, env: dict[str, str], reference: Path, ref_text: str) -> None:
        os.environ.update({**env, "LOW_VRAM": "false"})
        from engines import get_engine

        self.engines = {name: get_engine(name) for name in ENGINES}
        self.voices = {
            name: e.prepare_voice(str(reference), ref_text=ref_text, language=LANGUAGE)
            for name, e in self.engines.items()
        }

    def once(self, engine: str, segmented_as_stream: bool = False) -> float:
        """One synthesis; ``segmented_as_stream``: with a sink, so the engine segments the text
        as for a stream (the first sentence, or every sentence, alone) and only the transport
        differs from the streamed request."""
        sink = (lambda *_: None) if segmented_as_stream else None
        start = time.perf_counter()
        self.engines[engine].synthesize(
            TEXT, self.voices[engine], language=LANGUAGE, on_segment=sink
        )
        return time.perf_counter() - start


def concurrent(stack: ServiceStack, voice_id: str, clients: int, fmt: str) -> list[dict]:
    results: list[dict] = []
    errors: list[str] = []
    barrier = threading.Barrier(clients)
    lock = threading.Lock()

    def one() -> None:
        client = openai_client(stack, stack.admin_key)  # the voice is the admin key's
        barrier.wait()
        try:
            out = stream_once(client, "f5tts", voice_id, fmt)
        except Exception as exc:  # noqa: BLE001  (counted: all must complete)
            with lock:
                errors.append(repr(exc))
            return
        with lock:
            results.append(out)

    threads = [threading.Thread(target=one) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"{len(errors)} of {clients} concurrent clients failed: {errors[:3]}")
    return results


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--format", default="pcm", help="response_format of the streamed requests")
    args = ap.parse_args()
    from engines.testing import build_tiny_models
    from tests.service.helpers import REF_TEXT

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "redis").mkdir()
        (tmp / "logs").mkdir()
        models = build_tiny_models(tmp / "models")
        redis = RedisServer(tmp / "redis").start()
        # One worker serves the concurrent clients one after another: no queue bound in the way.
        stack = ServiceStack(
            redis.url(0),
            tmp / "data",
            tmp / "logs",
            {**models, "LOW_VRAM": "false", "SPEECH_QUEUE_TIMEOUT_S": "600"},
        )
        try:
            stack.start_api()
            stack.start_worker()
            stack.wait_ready()
            with stack.client() as c:
                voice_id = ready_voice(c, language=LANGUAGE, name="bench")
            direct = Direct(
                models, stack.data_dir / "voices" / voice_id / "reference.wav", REF_TEXT
            )
            client = openai_client(stack, stack.admin_key)  # the voice is the admin key's
            rows = {}
            for engine in ENGINES:
                stream_once(client, engine, voice_id, args.format)  # warm-up: loads, caches
                jobs_once(stack, engine, voice_id)
                direct.once(engine)
                runs = []
                for _ in range(args.runs):  # interleaved: drift hits all three alike
                    s = stream_once(client, engine, voice_id, args.format)
                    runs.append(
                        {
                            **s,
                            "jobs": jobs_once(stack, engine, voice_id),
                            "direct": direct.once(engine),
                            "direct_seg": direct.once(engine, segmented_as_stream=True),
                        }
                    )
                rows[engine] = runs
            crowd = concurrent(stack, voice_id, args.clients, args.format)
        finally:
            stack.stop()
            redis.stop()
    report(args, rows, crowd)
    return 0


def report(args, rows: dict, crowd: list[dict]) -> None:
    def med(runs, key):
        return statistics.median(r[key] for r in runs)

    print(
        f"\nStreaming, tiny models, CPU, normal mode, {len(TEXT)}-character 6-sentence text, "
        f"response_format={args.format}, medians of {args.runs} interleaved runs:\n"
    )
    print(
        "| engine | first byte | last byte | first/full (target <= 0.25x) | jobs path "
        "(POST, poll, WAV) | first audio / jobs path | direct, stream segments | "
        "stream full / direct, same segments (target <= 1.10x) | direct, job segments | "
        "stream segments / job segments |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for engine, runs in rows.items():
        first, full, jobs, direct, seg = (
            med(runs, k) for k in ("first", "full", "jobs", "direct", "direct_seg")
        )
        print(
            f"| {engine} | {first:.3f} s | {full:.3f} s | {first / full:.3f}x | {jobs:.3f} s | "
            f"{first / jobs:.3f}x | {seg:.3f} s | {full / seg:.3f}x | {direct:.3f} s | "
            f"{seg / direct:.3f}x |"
        )
    firsts = [r["first"] for r in crowd]
    fulls = [r["full"] for r in crowd]
    print(
        f"\n{args.clients} concurrent streaming clients (f5tts, one worker): "
        f"{len(crowd)}/{args.clients} completed\n"
    )
    print("| | p50 | p99 | max |")
    print("| --- | --- | --- | --- |")
    for name, values in (("first byte", firsts), ("last byte", fulls)):
        print(
            f"| {name} | {pct(values, 50):.3f} s | {pct(values, 99):.3f} s | {max(values):.3f} s |"
        )


if __name__ == "__main__":
    sys.exit(main())
