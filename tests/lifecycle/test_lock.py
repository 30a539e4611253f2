"""The project lock: a private directory, no symlink following, no truncation of others' files, and
nothing left behind once released."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from audiovoice_ops.core.errors import ConfigError, ProjectLocked
from audiovoice_ops.core.lock import lock_dir, lock_path, project_lock


@pytest.fixture
def runtime_dir(tmp_path, monkeypatch):
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    return runtime


def test_lock_is_in_a_private_directory_and_removed_on_release(runtime_dir):
    path = lock_path("proj")
    assert path == runtime_dir / "avops" / "proj.lock"
    with project_lock("proj"):
        assert path.read_text() == str(os.getpid())
        assert (path.stat().st_mode & 0o777) == 0o600
        assert (path.parent.stat().st_mode & 0o777) == 0o700
    assert not path.exists()
    assert os.listdir(path.parent) == []


def test_lock_file_is_removed_when_the_body_raises(runtime_dir):
    with pytest.raises(RuntimeError):
        with project_lock("proj"):
            raise RuntimeError("boom")
    assert not lock_path("proj").exists()


def test_without_runtime_dir_a_per_user_tmp_dir_is_used(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert lock_dir() == tmp_path / f"avops-{os.getuid()}"
    assert (lock_dir().stat().st_mode & 0o777) == 0o700


def test_old_shared_tmp_path_is_not_used(runtime_dir):
    # The old location: /tmp/avops-<project>.lock, shared by every user.
    assert not str(lock_path("proj")).startswith(f"{tempfile.gettempdir()}/avops-proj")


def test_a_planted_symlink_does_not_clobber_its_target(runtime_dir, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    lock_dir().joinpath("proj.lock").symlink_to(victim)
    with pytest.raises(ConfigError, match="cannot open lock file .*proj.lock"):
        with project_lock("proj"):
            pass
    assert victim.read_text() == "precious"


def test_an_unsafe_lock_directory_is_refused(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o777)
    os.chmod(target, 0o777)
    (tmp_path / f"avops-{os.getuid()}").symlink_to(target)
    with pytest.raises(ConfigError, match="is not a directory owned by you with mode 0700"):
        lock_path("proj")


def test_a_world_writable_runtime_dir_is_not_trusted(tmp_path, monkeypatch):
    runtime = tmp_path / "shared"
    runtime.mkdir()
    os.chmod(runtime, 0o777)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert lock_dir() == tmp_path / f"avops-{os.getuid()}"


HOLD = """
import sys, time
from audiovoice_ops.core.lock import project_lock
with project_lock(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.readline()
"""


def hold_in_child(project: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, project],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_held_lock_is_not_truncated_by_a_waiter(runtime_dir):
    holder = hold_in_child("proj")
    try:
        with pytest.raises(ProjectLocked, match=f"pid {holder.pid}"):
            with project_lock("proj"):
                pass
        assert lock_path("proj").read_text() == str(holder.pid)
    finally:
        holder.communicate("\n", timeout=10)
    assert not lock_path("proj").exists()


def test_wait_lock_queues_behind_the_holder(runtime_dir):
    holder = hold_in_child("proj")
    notices = []

    def release():
        holder.stdin.write("\n")
        holder.stdin.flush()

    threading.Timer(0.5, release).start()
    started = time.monotonic()
    with project_lock("proj", wait_seconds=10, on_wait=notices.append):
        assert lock_path("proj").read_text() == str(os.getpid())
    holder.wait(timeout=10)
    assert notices == [str(holder.pid)] and time.monotonic() - started >= 0.4
    assert not lock_path("proj").exists()


def test_removal_on_release_never_lets_two_holders_in(runtime_dir, tmp_path):
    """Many processes take the lock in turns; each appends enter/leave to a log. Overlap would
    show as two enters in a row (the race removal on release must not reopen)."""
    log = tmp_path / "log"
    worker = (
        "import sys, os, time\n"
        "from audiovoice_ops.core.lock import project_lock\n"
        "for _ in range(10):\n"
        "    with project_lock('race', wait_seconds=60):\n"
        "        with open(sys.argv[1], 'a') as f: f.write('enter\\n')\n"
        "        time.sleep(0.005)\n"
        "        with open(sys.argv[1], 'a') as f: f.write('leave\\n')\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", worker, str(log)]) for _ in range(3)]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    lines = log.read_text().split()
    assert len(lines) == 2 * 3 * 10
    assert lines == ["enter", "leave"] * (3 * 10)
    assert not lock_path("race").exists()
