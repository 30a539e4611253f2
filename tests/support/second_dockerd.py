"""A second Docker Engine on this machine, for tests that need "another host's" engine.

Its own socket, data root and exec root in a short temporary directory (Unix socket paths are
limited to 108 bytes, containerd's socket lives under the exec root), a bridge of its own and no iptables
rules, so it touches nothing of the main engine. Started and stopped by pid. Root only: dockerd
mounts overlay filesystems.

``route_sshd_to`` makes an sshd from ``tests/support/sshd.py`` answer ``docker system dial-stdio``
with this engine: a forced command in ``authorized_keys`` (read on every connection) that sets
``DOCKER_HOST`` for the docker CLI on the "remote" side.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import docker
from docker.errors import DockerException

from tests.support.sshd import SshServer

DOCKERD = shutil.which("dockerd") or "/usr/sbin/dockerd"
START_TIMEOUT_S = 60


def unavailable_reason() -> str | None:
    if os.geteuid() != 0:
        return "a second dockerd needs root (it mounts overlay filesystems)"
    if not os.access(DOCKERD, os.X_OK):
        return "dockerd is not installed (apt-get install docker.io)"
    return None


@dataclass
class SecondDockerd:
    dir: Path
    process: subprocess.Popen

    @property
    def socket(self) -> Path:
        return self.dir / "d.sock"

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.docker_host, version="auto", timeout=60)

    def log(self) -> str:
        return (self.dir / "dockerd.log").read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        """SIGTERM by pid (dockerd stops its containers and its containerd), then the files."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        # dockerd leaves its default network namespace mounted under the exec root.
        for mountpoint in mounts_under(self.dir):
            subprocess.run(["umount", mountpoint], capture_output=True)
        subprocess.run(["ip", "link", "del", bridge_name(self.dir)], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def mounts_under(directory: Path) -> list[str]:
    """Mount points below ``directory``, deepest first."""
    prefix = f"{directory}/"
    with open("/proc/self/mounts") as table:
        points = [line.split()[1] for line in table if line.split()[1].startswith(prefix)]
    return sorted(points, key=len, reverse=True)


BRIDGE_SUBNET = "10.213.{}.1/24"  # away from docker0 (172.17/16) and the netns tests' addresses


def bridge_name(directory: Path) -> str:
    return "avd" + directory.name.removeprefix("avd-")[:8].replace("_", "x")


def engine_bridge(directory: Path) -> str:
    """The second engine's own bridge (dockerd --bridge needs it to exist, with an address)."""
    name = bridge_name(directory)
    subprocess.run(["ip", "link", "add", name, "type", "bridge"], check=True)
    subnet = BRIDGE_SUBNET.format(os.getpid() % 250 + 1)
    subprocess.run(["ip", "addr", "add", subnet, "dev", name], check=True)
    subprocess.run(["ip", "link", "set", name, "up"], check=True)
    return name


def start_second_dockerd() -> SecondDockerd:
    directory = Path(tempfile.mkdtemp(prefix="avd-", dir="/tmp"))
    log = open(directory / "dockerd.log", "wb")
    process = subprocess.Popen(
        [
            DOCKERD,
            "--host",
            f"unix://{directory}/d.sock",
            "--data-root",
            str(directory / "root"),
            "--exec-root",
            str(directory / "exec"),
            "--pidfile",
            str(directory / "d.pid"),
            # a bridge of its own: with --bridge=none dockerd deletes the host's docker0 at
            # start, which cuts the main engine's new containers off the network
            f"--bridge={engine_bridge(directory)}",
            "--iptables=false",
            "--ip-masq=false",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a Ctrl-C of the test run reaches it through stop(), by pid
    )
    engine = SecondDockerd(directory, process)
    _wait_for_ping(engine)
    return engine


def _wait_for_ping(engine: SecondDockerd) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if engine.process.poll() is not None:
            log = engine.log()
            engine.stop()
            raise RuntimeError(f"the second dockerd exited: {log}")
        if engine.socket.exists():
            try:
                engine.client().ping()
                return
            except DockerException:
                pass
        time.sleep(0.2)
    log = engine.log()
    engine.stop()
    raise RuntimeError(f"the second dockerd did not answer in {START_TIMEOUT_S}s: {log}")


def route_sshd_to(server: SshServer, engine: SecondDockerd) -> None:
    """Every ssh connection with the test key runs ``docker system dial-stdio`` against ``engine``."""
    key = (server.dir / "user_key.pub").read_text().strip()
    forced = f'command="DOCKER_HOST={engine.docker_host} exec docker system dial-stdio"'
    (server.dir / "authorized_keys").write_text(f"{forced} {key}\n")
