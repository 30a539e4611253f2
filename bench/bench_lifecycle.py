"""Container lifecycle benchmarks against Debian's docker-compose, measured in the same run (tools
interleaved, each on its own project), medians of N runs. The stack, written by ``write_stack``,
has audio-voice's shape: an image-only ``store`` (Redis's place) and two built services, ``api``
(busybox httpd answering ``/health``) and ``worker``, both waiting for ``store`` to be healthy;
each build takes ~2 s (``RUN sleep``), every healthcheck polls each second.

1. rebuild to all-healthy, from a running stack: `avops rebuild --clean` vs
   `docker-compose down && docker-compose build --no-cache && docker-compose up -d` plus polling
   health every 0.5 s (the old script's order); `avops rebuild` (rolling) listed too;
2. health detection latency: Docker's last `health_status: healthy` event -> `avops rebuild` exits;
3. API unavailability during a rebuild: a client probing `GET /health` every 50 ms, for
   `avops rebuild` (rolling), `avops rebuild --clean` and `docker-compose up -d --build`; for the
   rolling rebuild also its recreate + health wait (old api container killed -> new one healthy,
   from Docker's events), the bound its outage must stay within;
4. cleanup of 12 containers (store scaled to 10, api, worker): `avops cleanup` vs `docker-compose down -t 1`.

Usage: .venv/bin/python bench/bench_lifecycle.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

from docker.errors import APIError

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support import dockerenv  # noqa: E402  (after the sys.path line above: run as a script)

PROBE_INTERVAL = 0.05
BUILD_SECONDS = 2
COMPOSE = """\
x-loop: &loop
  command: ["sh", "-c", "trap 'exit 0' TERM; touch /tmp/ready; while true; do sleep 1 & wait $$!; done"]
x-health: &health
  healthcheck:
    test: ["CMD", "test", "-f", "/tmp/ready"]
    interval: 1s
    timeout: 2s
    retries: 3

services:
  store:
    image: avops-test/busybox:latest
    <<: [*loop, *health]
    network_mode: host
    volumes:
      - data:/data
    stop_grace_period: 2s

  api:
    build:
      context: .
      dockerfile: Dockerfile.api
      args:
        STAMP: "${STAMP:-0}"
    command: ["sh", "-c", "trap 'exit 0' TERM; httpd -f -p 127.0.0.1:PORT -h /www & wait $$!"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:PORT/health"]
      interval: 1s
      timeout: 2s
      retries: 3
    network_mode: host
    env_file: .env
    depends_on:
      store:
        condition: service_healthy
    stop_grace_period: 2s

  worker:
    build:
      context: .
      dockerfile: Dockerfile.worker
      args:
        STAMP: "${STAMP:-0}"
    <<: [*loop, *health]
    network_mode: host
    env_file: .env
    depends_on:
      store:
        condition: service_healthy
    stop_grace_period: 2s

volumes:
  data:
"""
DOCKERFILE = """\
FROM avops-test/busybox:latest
ARG AVOPS_PROJECT
LABEL io.avops.built-for-project=$AVOPS_PROJECT
ARG STAMP
RUN mkdir -p /www && echo ok > /www/health && echo "$STAMP {role}" > /stamp && sleep {seconds}
"""


class Project(dockerenv.TestProject):
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"

    def env(self, stamp: str) -> dict[str, str]:
        return {**self.cli_env(), "STAMP": stamp}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_stack(client, workdir: Path) -> Project:
    name = f"avb{uuid.uuid4().hex[:8]}"
    target = workdir / name
    target.mkdir()
    port = free_port()
    (target / "compose.yml").write_text(COMPOSE.replace("PORT", str(port)))
    for role in ("api", "worker"):
        (target / f"Dockerfile.{role}").write_text(
            DOCKERFILE.format(role=role, seconds=BUILD_SECONDS)
        )
    (target / ".env").write_text("LOW_VRAM=true\n")
    project = Project(client, name, target)
    project.port = port
    return project


def compose(project: Project, *args: str, stamp: str = "0") -> None:
    subprocess.run(
        ["docker-compose", "-p", project.name, "-f", str(project.compose_file), *args],
        check=True,
        capture_output=True,
        cwd=project.dir,
        env=project.env(stamp),
    )


def avops(project: Project, *args: str, stamp: str = "0") -> None:
    result = project.avops(*args, env=project.env(stamp))
    if result.returncode != 0:
        raise SystemExit(f"avops {' '.join(args)} failed:\n{result.stderr}")


def all_healthy(client, project: Project, count: int = 3) -> bool:
    containers = client.api.containers(
        all=True, filters={"label": f"com.docker.compose.project={project.name}"}
    )
    return len(containers) == count and all("(healthy)" in c["Status"] for c in containers)


def poll_healthy(client, project: Project) -> None:
    while not all_healthy(client, project):
        time.sleep(0.5)


class Prober:
    """GET /health every 50 ms on a thread; the longest stretch without an answer is the outage."""

    def __init__(self, url: str):
        self.url = url
        self.samples: list[tuple[float, bool]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            tick = time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=PROBE_INTERVAL * 4) as response:
                    ok = response.status == 200
            except OSError:
                ok = False
            self.samples.append((tick, ok))
            self._stop.wait(max(0.0, PROBE_INTERVAL - (time.monotonic() - tick)))

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def outage(self) -> float:
        """Seconds from the first failed probe of the longest failing stretch to the next success."""
        longest, down_since = 0.0, None
        for tick, ok in self.samples:
            if not ok and down_since is None:
                down_since = tick
            elif ok and down_since is not None:
                longest, down_since = max(longest, tick - down_since), None
        if down_since is not None:
            raise SystemExit(f"{self.url} never answered again")
        return longest


def recreate_window(client, project: Project, since: float) -> float:
    """The rolling rebuild's api recreate: old container killed -> new container healthy."""
    events = list(
        client.api.events(
            since=since,
            until=time.time() + 0.1,
            decode=True,
            filters={
                "type": "container",
                "label": [
                    f"com.docker.compose.project={project.name}",
                    "com.docker.compose.service=api",
                ],
            },
        )
    )
    killed = min(e["timeNano"] for e in events if e.get("Action") == "kill")
    healthy = max(e["timeNano"] for e in events if e.get("Action") == "health_status: healthy")
    return (healthy - killed) / 1e9


def timed_rebuild(client, project: Project, stamp: str) -> tuple[float, float]:
    """`avops rebuild --clean`: seconds, and seconds from the last healthy event to avops's exit."""
    healthy_at: list[float] = []
    events = client.api.events(
        decode=True,
        filters={
            "type": "container",
            "event": "health_status",
            "label": f"com.docker.compose.project={project.name}",
        },
    )

    def collect():
        for event in events:
            if event.get("status", "").endswith("healthy") and "unhealthy" not in event.get(
                "status", ""
            ):
                healthy_at.append(event["timeNano"] / 1e9)

    threading.Thread(target=collect, daemon=True).start()
    start = time.perf_counter()
    avops(project, "rebuild", "--clean", stamp=stamp)
    elapsed = time.perf_counter() - start
    exited_at = time.time()
    events.close()
    return elapsed, exited_at - max(healthy_at)


def with_probe(project: Project, operation) -> tuple[float, float]:
    """(seconds the operation took until all healthy, longest /health outage during it)."""
    with Prober(project.url) as prober:
        time.sleep(0.3)  # a few answers from the old stack first
        start = time.perf_counter()
        operation()
        elapsed = time.perf_counter() - start
        time.sleep(0.3)
    return elapsed, prober.outage()


def one_run(client, workdir: Path, results: dict[str, list[float]], run: int) -> None:
    by_compose, rolling, clean = (write_stack(client, workdir) for _ in range(3))
    projects = (by_compose, rolling, clean)
    try:
        compose(by_compose, "up", "-d")
        avops(rolling, "rebuild")
        avops(clean, "rebuild")
        poll_healthy(client, by_compose)
        stamp = f"run{run}-{time.time()}"  # a new build argument: both tools really build

        # 1 + 2: rebuild to all-healthy from a running stack, the old script's order.
        start = time.perf_counter()
        compose(by_compose, "down", "-t", "2")
        compose(by_compose, "build", "--no-cache", stamp=stamp)
        compose(by_compose, "up", "-d", stamp=stamp)
        poll_healthy(client, by_compose)
        results["compose_rebuild"].append(time.perf_counter() - start)
        seconds, latency = timed_rebuild(client, clean, stamp)
        results["avops_clean"].append(seconds)
        results["latency"].append(latency)

        # 3: /health outage during a rebuild that brings a new image.
        stamp += "b"
        seconds, outage = with_probe(
            by_compose,
            lambda: (
                compose(by_compose, "up", "-d", "--build", stamp=stamp),
                poll_healthy(client, by_compose),
            ),
        )
        results["compose_up_build"].append(seconds)
        results["outage_compose_up_build"].append(outage)
        since = time.time()
        seconds, outage = with_probe(rolling, lambda: avops(rolling, "rebuild", stamp=stamp))
        results["avops_rolling"].append(seconds)
        results["outage_avops_rolling"].append(outage)
        results["rolling_recreate_window"].append(recreate_window(client, rolling, since))
        seconds, outage = with_probe(clean, lambda: avops(clean, "rebuild", "--clean", stamp=stamp))
        results["outage_avops_clean"].append(outage)

        # 4: cleanup of 10 containers, made by compose for both tools.
        for project in (by_compose, clean):
            compose(project, "up", "-d", "--no-deps", "--scale", "store=10", "store", stamp=stamp)
        start = time.perf_counter()
        compose(by_compose, "down", "-t", "1")
        results["compose_down"].append(time.perf_counter() - start)
        start = time.perf_counter()
        avops(clean, "cleanup", "--timeout", "1")
        results["avops_cleanup"].append(time.perf_counter() - start)
    finally:
        for project in projects:
            project.destroy()
            for image in client.api.images(filters={"reference": f"{project.name}*"}):
                try:
                    client.api.remove_image(image["Id"], force=True)
                except APIError:
                    pass  # in use by another run's container, or already gone


def measure(runs: int) -> dict[str, list[float]]:
    client = dockerenv.client_or_none()
    if client is None:
        raise SystemExit("no Docker Engine")
    dockerenv.ensure_busybox_image(client)
    keys = (
        "compose_rebuild",
        "avops_clean",
        "latency",
        "compose_up_build",
        "avops_rolling",
        "outage_compose_up_build",
        "outage_avops_rolling",
        "rolling_recreate_window",
        "outage_avops_clean",
        "compose_down",
        "avops_cleanup",
    )
    results: dict[str, list[float]] = {key: [] for key in keys}
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(runs):
            one_run(client, Path(tmp), results, run)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    r = measure(args.runs)
    med = {k: statistics.median(v) for k, v in r.items()}
    print(f"runs: {args.runs}, load average {os.getloadavg()[0]:.2f}")
    print(
        f"rebuild to healthy from a running stack: avops --clean {med['avops_clean']:.2f} s, docker-compose "
        f"down + build --no-cache + up + 0.5 s polling {med['compose_rebuild']:.2f} s, "
        f"ratio {med['avops_clean'] / med['compose_rebuild']:.2f}; avops rolling {med['avops_rolling']:.2f} s "
        f"(ratio {med['avops_rolling'] / med['compose_rebuild']:.2f}), docker-compose up -d --build + polling "
        f"{med['compose_up_build']:.2f} s"
    )
    print(
        f"health detection latency (last healthy event -> avops exit): median {med['latency'] * 1000:.0f} ms, "
        f"max {max(r['latency']) * 1000:.0f} ms"
    )
    print(
        f"/health outage during a rebuild: avops rolling {med['outage_avops_rolling']:.2f} s "
        f"(its recreate + health wait {med['rolling_recreate_window']:.2f} s), docker-compose up -d --build "
        f"{med['outage_compose_up_build']:.2f} s, avops --clean {med['outage_avops_clean']:.2f} s"
    )
    print(
        f"cleanup of 12 containers: avops {med['avops_cleanup']:.2f} s, docker-compose down -t 1 "
        f"{med['compose_down']:.2f} s, ratio {med['avops_cleanup'] / med['compose_down']:.2f}"
    )
    for key, values in r.items():
        print(f"  {key}: " + ", ".join(f"{v:.3f}" for v in values))


if __name__ == "__main__":
    main()
