"""CPU cost of ``avops vram --watch`` (target: < 2 % of one core at the default 1 s interval).

Runs the real CLI in a subprocess on a pseudo-terminal (so rich's Live view renders as for a user),
lets it start, then reads the process's user+system CPU time from /proc/<pid>/stat over a window.
Sources per reading: NVML (real bindings; on a host without a driver a recorded snapshot is used
with --snapshot), the pid-to-container mapping through the Docker API, and ``GET /admin/vram`` from a
local HTTP server standing in for the API.

    .venv/bin/python bench/bench_gpu.py [--seconds 30] [--interval 1] [--snapshot FILE]
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.gpu.apiserver import FakeApi, vram_stats  # noqa: E402  (after the sys.path line: run as a script)

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def drain(fd: int, stop: threading.Event, counter: list[int]) -> None:
    while not stop.is_set():
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                counter[0] += len(os.read(fd, 65536))
            except OSError:
                return


def measure(args: list[str], env: dict[str, str], seconds: float, warmup: float) -> dict:
    master, slave = pty.openpty()
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "audiovoice_ops", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=REPO,
        close_fds=True,
    )
    os.close(slave)
    stop, written = threading.Event(), [0]
    reader = threading.Thread(target=drain, args=(master, stop, written), daemon=True)
    reader.start()
    try:
        time.sleep(warmup)
        startup_cpu = cpu_seconds(proc.pid)
        t0, c0 = time.monotonic(), startup_cpu
        time.sleep(seconds)
        t1, c1 = time.monotonic(), cpu_seconds(proc.pid)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        stop.set()
        reader.join(timeout=2)
        os.close(master)
    return {
        "cpu_percent": 100 * (c1 - c0) / (t1 - t0),
        "startup_cpu_s": startup_cpu,
        "exit_code": code,
        "bytes_out": written[0],
        "wall_s": time.monotonic() - started,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument(
        "--snapshot",
        type=Path,
        default=REPO / "tests/gpu/snapshots/one_gpu_processes.json",
        help="recorded NVML snapshot (used when NVML has no driver); '-' = real NVML only",
    )
    opts = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVOPS_")}
    env.update(
        COLUMNS="120", LINES="50", TERM="xterm-256color", AVOPS_COMPOSE_FILE="/nonexistent.yml"
    )
    with FakeApi(
        vram_stats(
            low_vram=True,
            allocated_mb=1200.0,
            models=[
                dict(
                    key="f5tts",
                    device="cuda",
                    size_mb=1200.0,
                    parked=False,
                    in_use=1,
                    last_used_s_ago=0.1,
                )
            ],
        )
    ) as api:
        env["AVOPS_API_URL"] = api.url
        cases = [
            ("live view, real NVML (this host: no driver) + API", [], False),
            ("live view, recorded NVML snapshot + container mapping + API", [], True),
            ("--json lines, recorded NVML snapshot + API", ["--json"], True),
        ]
        print(
            f"# vram --watch --interval {opts.interval:g}, {opts.seconds:g} s window after {opts.warmup:g} s warm-up"
        )
        print(
            "| case | CPU % of one core | startup CPU s | exit on SIGINT | readings/s (API hits) |"
        )
        print("| --- | --- | --- | --- | --- |")
        for name, extra, use_snapshot in cases:
            case_env = dict(env)
            if use_snapshot and str(opts.snapshot) != "-":
                case_env["AVOPS_NVML_SNAPSHOT"] = str(opts.snapshot)
            before = len(api.requests)
            result = measure(
                ["vram", "--watch", "--interval", str(opts.interval), *extra],
                case_env,
                opts.seconds,
                opts.warmup,
            )
            hits = (len(api.requests) - before) / result["wall_s"]
            print(
                f"| {name} | {result['cpu_percent']:.2f} % | {result['startup_cpu_s']:.2f} | "
                f"{result['exit_code']} | {hits:.2f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
