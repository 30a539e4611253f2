"""Start-up benchmark: ``avops --help`` and ``avops --version``, median wall time of N runs, against
baselines measured in the same run, interleaved:

- ``python -c pass``: the interpreter (and this venv's ``site``) alone, what no CLI can go below;
- the same two commands from the pre-lazy-import code (git ``BASE_COMMIT``), exported to a
  temporary directory and run with the same interpreter.

Bytecode is cached under a temporary ``PYTHONPYCACHEPREFIX`` (warm-up run first), so the figures are
those of an installed package whatever ``PYTHONDONTWRITEBYTECODE`` says, and nothing is written
into the checkout.

Usage: .venv/bin/python bench/bench_startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASE_COMMIT = "0861046"  # the last app.py that imported every command module up front
TARGET_SECONDS = 0.12


def run_cli(package_root: Path, *args: str) -> list[str]:
    """The console script's body, with ``package_root`` first on the path."""
    code = (
        f"import sys; sys.path.insert(0, {str(package_root)!r}); sys.argv = ['avops', *{list(args)!r}]\n"
        "from audiovoice_ops.cli import main\nmain()"
    )
    return [sys.executable, "-c", code]


def export_base(target: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", BASE_COMMIT, "audiovoice_ops"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def seconds(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(
            f"{command[-1][:80]!r} failed ({result.returncode}): {result.stderr.decode()[-500:]}"
        )
    return elapsed


def measure(runs: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        base = export_base(Path(tmp))
        env = {**os.environ, "PYTHONPYCACHEPREFIX": str(Path(tmp) / "pycache")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "avops --help": run_cli(REPO, "--help"),
            "avops --version": run_cli(REPO, "--version"),
            f"avops --help @ {BASE_COMMIT}": run_cli(base, "--help"),
            f"avops --version @ {BASE_COMMIT}": run_cli(base, "--version"),
        }
        for command in commands.values():  # warm-up: writes the bytecode cache
            seconds(command, env)
        results: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs):
            for name, command in commands.items():
                results[name].append(seconds(command, env))
        return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    results = measure(args.runs)
    medians = {name: statistics.median(values) for name, values in results.items()}
    floor = medians["python -c pass"]
    print(
        f"runs: {args.runs}, python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.2f}"
    )
    for name, median in medians.items():
        verdict = ""
        if name in ("avops --help", "avops --version"):
            verdict = f"  target <= {TARGET_SECONDS:.2f} s: {'met' if median <= TARGET_SECONDS else 'NOT met'}"
        print(
            f"{name:32s} median {median * 1000:6.1f} ms  ({median / floor:4.1f}x python -c pass){verdict}"
        )
    for new in ("avops --help", "avops --version"):
        old = f"{new} @ {BASE_COMMIT}"
        print(f"{new}: {medians[new] / medians[old]:.2f}x of {BASE_COMMIT}")
    for name, values in results.items():
        print(f"  {name}: " + ", ".join(f"{v * 1000:.0f}" for v in values))


if __name__ == "__main__":
    main()
