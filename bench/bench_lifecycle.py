"""Container lifecycle benchmarks on the fixture stack (tests/fixtures/buildstack), against Debian's
docker-compose measured in the same run, median of N runs:

1. rebuild to all-healthy: `avops rebuild` vs `docker-compose build --no-cache && docker-compose up -d`
   plus polling health every 0.5 s (what a script has to do without events);
2. health detection latency: Docker's last `health_status: healthy` event -> avops exits;
3. cleanup of the stack scaled to 10 containers: `avops cleanup` vs `docker-compose down -t 1`.

Usage: .venv/bin/python bench/bench_lifecycle.py [--runs 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support import dockerenv  # noqa: E402

FIXTURE = REPO / "tests" / "fixtures" / "buildstack"


def make_project(client, workdir: Path) -> dockerenv.TestProject:
    name = f"avb{uuid.uuid4().hex[:8]}"
    target = workdir / name
    shutil.copytree(FIXTURE, target)
    shutil.copy(target / ".env.example", target / ".env")
    return dockerenv.TestProject(client, name, target)


def compose(project, *args: str) -> None:
    subprocess.run(["docker-compose", "-p", project.name, "-f", str(project.compose_file), *args],
                   check=True, capture_output=True, cwd=project.dir)


def all_healthy(client, project) -> bool:
    containers = client.api.containers(all=True, filters={"label": f"com.docker.compose.project={project.name}"})
    return len(containers) == 2 and all("(healthy)" in c["Status"] for c in containers)


def compose_rebuild(client, project) -> float:
    start = time.perf_counter()
    compose(project, "build", "--no-cache")
    compose(project, "up", "-d")
    while not all_healthy(client, project):
        time.sleep(0.5)
    return time.perf_counter() - start


def avops_rebuild(project) -> tuple[float, float]:
    """Seconds for `avops rebuild`, and seconds from the last healthy event to avops's exit."""
    client = project.client
    healthy_at: list[float] = []
    events = client.api.events(decode=True, filters={"type": "container", "event": "health_status",
                                                     "label": f"com.docker.compose.project={project.name}"})

    def collect():
        for event in events:
            if event.get("status", "").endswith("healthy") and "unhealthy" not in event.get("status", ""):
                healthy_at.append(event["timeNano"] / 1e9)

    reader = threading.Thread(target=collect, daemon=True)
    reader.start()
    start = time.perf_counter()
    result = project.avops("rebuild")
    elapsed = time.perf_counter() - start
    exited_at = time.time()
    events.close()
    if result.returncode != 0:
        raise SystemExit(f"avops rebuild failed:\n{result.stderr}")
    return elapsed, exited_at - max(healthy_at)


def scale_up(project, count: int) -> None:
    """``count`` containers of the store service, made by docker-compose (the same for both tools)."""
    compose(project, "up", "-d", "--no-deps", "--scale", f"store={count}", "store")


def measure(runs: int) -> dict:
    client = dockerenv.client_or_none()
    if client is None:
        raise SystemExit("no Docker Engine")
    dockerenv.ensure_busybox_image(client)
    results = {"compose_rebuild": [], "avops_rebuild": [], "latency": [], "compose_down": [], "avops_cleanup": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(runs):
            # Interleave tool order so neither always runs on a warmer machine.
            a, b = make_project(client, Path(tmp)), make_project(client, Path(tmp))
            try:
                results["compose_rebuild"].append(compose_rebuild(client, a))
                seconds, latency = avops_rebuild(b)
                results["avops_rebuild"].append(seconds)
                results["latency"].append(latency)
                compose(a, "down", "-t", "1")  # untimed reset: from here both stacks start alike
                assert b.avops("cleanup", "--timeout", "1").returncode == 0
                for project in (a, b):  # 10 containers each, made by compose
                    scale_up(project, 10)
                start = time.perf_counter()
                compose(a, "down", "-t", "1")
                results["compose_down"].append(time.perf_counter() - start)
                start = time.perf_counter()
                out = b.avops("cleanup", "--timeout", "1")
                results["avops_cleanup"].append(time.perf_counter() - start)
                assert out.returncode == 0, out.stderr
            finally:
                a.destroy()
                b.destroy()
                for project in (a, b):
                    for image in (f"{project.name}_app", f"{project.name}-app"):
                        try:
                            client.api.remove_image(image, force=True)
                        except Exception:
                            pass
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    r = measure(args.runs)
    med = {k: statistics.median(v) for k, v in r.items()}
    print(f"runs: {args.runs}")
    print(f"rebuild to healthy: avops {med['avops_rebuild']:.2f} s, docker-compose + 0.5 s polling "
          f"{med['compose_rebuild']:.2f} s, ratio {med['avops_rebuild'] / med['compose_rebuild']:.2f}")
    print(f"health detection latency (last healthy event -> avops exit): median {med['latency'] * 1000:.0f} ms, "
          f"max {max(r['latency']) * 1000:.0f} ms")
    print(f"cleanup of 10 containers: avops {med['avops_cleanup']:.2f} s, docker-compose down -t 1 "
          f"{med['compose_down']:.2f} s, ratio {med['avops_cleanup'] / med['compose_down']:.2f}")
    for key, values in r.items():
        print(f"  {key}: " + ", ".join(f"{v:.3f}" for v in values))


if __name__ == "__main__":
    main()
