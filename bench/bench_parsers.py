"""Parser benchmarks: `.env` reading (linear now) and the limited compose-YAML loader, each as a
ratio against a baseline measured in the same run, median of N runs.

1. `.env` of the size limit (1 MiB, about 30,000 variables, each referencing an earlier one and a missing one):
   `read_env_file` vs python-dotenv's own `dotenv_values` (the parser we build on, with its own
   interpolation), and vs the pre-fix `read_env_file` (commit 90f277f, which copied the environment
   per line: quadratic) loaded from git into a temporary module.
2. Scaling: seconds per MiB at 1/4, 1/2 and 1 MiB (linear: the ratio stays near 1).
3. Compose YAML: `read_compose_yaml` (size cap, depth cap, alias-expansion walk) vs plain
   `yaml.safe_load` on docker/compose.yml.

Usage: .venv/bin/python bench/bench_parsers.py [--runs 5] [--no-old]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402  (after the sys.path line: run as a script)
from dotenv import dotenv_values  # noqa: E402  (after the sys.path line: run as a script)

from audiovoice_ops.core.envfile import read_env_file  # noqa: E402  (after the sys.path line: run as a script)
from audiovoice_ops.core.limits import MAX_ENV_FILE_BYTES  # noqa: E402  (after the sys.path line: run as a script)
from audiovoice_ops.core.stack.yamlfile import read_compose_yaml  # noqa: E402  (after the sys.path line: run as a script)

OLD_COMMIT = "90f277f"  # the last read_env_file that copied the environment per line


def env_text(size: int) -> str:
    lines, total, i = [], 0, 0
    while True:
        # Each value references an earlier variable (values stay short: the output is linear too).
        line = f"VAR_{i}=value-{i}-${{VAR_0:-none}}-$HOME_DIR\n" if i else "VAR_0=start\n"
        if total + len(line) > size:
            return "".join(lines)
        lines.append(line)
        total += len(line)
        i += 1


def median_time(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def load_old_envfile():
    """The pre-fix module, from git, importable under another name."""
    source = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{OLD_COMMIT}:audiovoice_ops/core/envfile.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "old_envfile.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_envfile", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bench_env(runs: int, old: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.env"
        path.write_text(env_text(MAX_ENV_FILE_BYTES))
        count = len(read_env_file(path, {}))
        ours = median_time(lambda: read_env_file(path, {}), runs)
        dotenv = median_time(lambda: dotenv_values(path), runs)
        print(
            f"\n.env at the limit ({MAX_ENV_FILE_BYTES // 1024} KiB, {count} variables), median of {runs}"
        )
        print(f"  read_env_file            {ours:8.3f} s")
        print(f"  dotenv_values (baseline) {dotenv:8.3f} s   ratio {ours / dotenv:.2f}")
        if old:
            module = load_old_envfile()
            before = median_time(lambda: module.read_env_file(path, {}), 1)
            print(
                f"  pre-fix read_env_file    {before:8.3f} s   (1 run) new/old ratio {ours / before:.4f}"
            )

        print("\nscaling (seconds per MiB; linear = flat)")
        per_mib = {}
        for fraction in (4, 2, 1):
            size = MAX_ENV_FILE_BYTES // fraction
            path.write_text(env_text(size))
            per_mib[fraction] = (
                median_time(lambda: read_env_file(path, {}), runs) * (1 << 20) / size
            )
            print(f"  {size // 1024:5d} KiB: {per_mib[fraction]:.3f} s/MiB")
        print(f"  1 MiB / 256 KiB per-byte ratio: {per_mib[1] / per_mib[4]:.2f}")


def bench_yaml(runs: int) -> None:
    path = REPO / "docker" / "compose.yml"
    text = path.read_text()
    loops = 50
    ours = median_time(lambda: [read_compose_yaml(path) for _ in range(loops)], runs) / loops
    plain = median_time(lambda: [yaml.safe_load(text) for _ in range(loops)], runs) / loops
    print(f"\ncompose YAML ({path.relative_to(REPO)}), median of {runs} x {loops} loads")
    print(f"  read_compose_yaml        {ours * 1000:8.2f} ms")
    print(f"  yaml.safe_load (baseline){plain * 1000:8.2f} ms   ratio {ours / plain:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-old", action="store_true", help="skip the slow pre-fix baseline")
    args = parser.parse_args()
    bench_env(args.runs, not args.no_old)
    bench_yaml(args.runs)


if __name__ == "__main__":
    main()
