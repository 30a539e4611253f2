"""``avops vram`` as a user runs it: one-shot, JSON, JSON lines, the live view, Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from tests.support.dockerenv import REPO_ROOT, run_avops

FRAME_KEYS = {"timestamp", "gpu", "api"}
API_KEYS = {
    "url",
    "ok",
    "status",
    "error",
    "latency_s",
    "vram",
    "age_seconds",
    "server_timestamp",
    "worker",
    "event",
    "workers",
}


def test_one_shot_json_schema_with_gpu_and_api(snapshots, cli_env, fake_api):
    env = {
        **cli_env,
        "AVOPS_NVML_SNAPSHOT": str(snapshots / "multi_gpu.json"),
        "AVOPS_API_URL": fake_api.url,
    }
    result = run_avops("vram", "--json", env=env)
    assert result.returncode == 0, result.stderr
    frame = json.loads(result.stdout)
    assert set(frame) == FRAME_KEYS and set(frame["api"]) == API_KEYS
    assert frame["api"]["ok"] and frame["api"]["vram"]["low_vram_mode"] is True
    assert [g["memory.used"] for g in frame["gpu"]["gpus"]] == [20480.0, 14200.0, 0.0]
    assert fake_api.requests == ["/admin/vram", "/admin/models"]
    # every worker (all replicas and hosts) with its memory and what it holds
    (worker,) = frame["api"]["workers"]
    assert worker["worker"] == "celery@fake" and worker["total_mb"] == 4096.0


def test_no_gpu_api_alone(cli_env, fake_api, snapshots):
    env = {
        **cli_env,
        "AVOPS_NVML_SNAPSHOT": str(snapshots / "no_driver.json"),
        "AVOPS_API_URL": fake_api.url,
    }
    result = run_avops("vram", env=env)
    assert result.returncode == 0, result.stderr
    assert "no NVML reading" in result.stdout and "worker VRAM manager" in result.stdout
    assert "workers (GET /admin/models)" in result.stdout and "celery@fake" in result.stdout


def test_real_host_without_driver_and_without_api(cli_env):
    result = run_avops("vram", env=cli_env)
    assert result.returncode == 1
    assert "no NVIDIA driver" in result.stdout and "cannot reach" in result.stdout
    assert "Traceback" not in result.stderr


def test_watch_json_lines(snapshots, cli_env):
    env = {**cli_env, "AVOPS_NVML_SNAPSHOT": str(snapshots / "one_gpu_processes.json")}
    started = time.monotonic()
    result = run_avops("vram", "--watch", "--json", "--count", "3", "--interval", "0.25", env=env)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    frames = [json.loads(line) for line in lines]
    assert all(set(f) == FRAME_KEYS for f in frames)
    assert frames[0]["timestamp"] < frames[2]["timestamp"]
    assert elapsed >= 0.5  # two intervals between three readings


def test_watch_live_view_renders(snapshots, cli_env, fake_api):
    env = {
        **cli_env,
        "AVOPS_NVML_SNAPSHOT": str(snapshots / "one_gpu_processes.json"),
        "AVOPS_API_URL": fake_api.url,
    }
    result = run_avops("vram", "--watch", "--count", "2", "--interval", "0.25", env=env)
    assert result.returncode == 0, result.stderr
    assert "NVIDIA GeForce RTX 3050" in result.stdout and "Ctrl-C to quit" in result.stdout
    assert fake_api.requests.count("/admin/vram") == 2


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_ctrl_c_exits_zero(snapshots, cli_env, json_flag):
    env = {**cli_env, "AVOPS_NVML_SNAPSHOT": str(snapshots / "one_gpu_processes.json")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "audiovoice_ops",
            "vram",
            "--watch",
            "--interval",
            "0.25",
            *json_flag,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO_ROOT,
    )
    try:
        time.sleep(2.0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    if json_flag:
        assert len(out.splitlines()) >= 2 and all(json.loads(line) for line in out.splitlines())


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--watch", "--interval", "0.1"], "0.25"),
        (["--interval", "abc"], "interval"),
        (["--count", "-1"], "count"),
    ],
)
def test_bad_input_is_one_line_not_a_traceback(cli_env, args, needle):
    result = run_avops("vram", *args, env=cli_env)
    assert result.returncode == 2
    assert needle in result.stderr and "Traceback" not in result.stderr


def test_bad_snapshot_file(cli_env, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    result = run_avops("vram", env={**cli_env, "AVOPS_NVML_SNAPSHOT": str(bad)})
    assert result.returncode == 3 and "invalid NVML snapshot" in result.stderr
    assert "Traceback" not in result.stderr


def test_api_without_published_stats(cli_env, snapshots):
    """The API answers but no worker has published yet (every field null): said in one line."""
    from tests.gpu.apiserver import FakeApi

    with FakeApi() as api:
        api.stats = None
        env = {
            **cli_env,
            "AVOPS_NVML_SNAPSHOT": str(snapshots / "no_driver.json"),
            "AVOPS_API_URL": api.url,
        }
        result = run_avops("vram", "--json", env=env)
    frame = json.loads(result.stdout)
    assert result.returncode == 1 and "no worker has published" in frame["api"]["error"]
