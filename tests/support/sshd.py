"""A real OpenSSH server on a loopback port, for ``DOCKER_HOST=ssh://`` tests.

Everything is made in a temporary directory: a host key, a user key, ``authorized_keys``, the
server's config and a client config with ``known_hosts`` (so no prompt can appear). The client side
is the system ``ssh``; since ssh reads ``~/.ssh/config`` from the passwd entry, not ``$HOME``, a
two-line ``ssh`` wrapper first on ``PATH`` adds ``-F <client config>``. The remote command avops
runs, ``docker system dial-stdio``, reaches the local engine's socket as the test user.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
SSH = shutil.which("ssh") or "/usr/bin/ssh"


def missing_tools() -> str | None:
    for tool, path in (
        ("sshd (Debian openssh-server)", SSHD),
        ("ssh (Debian openssh-client)", SSH),
        ("ssh-keygen", shutil.which("ssh-keygen")),
        ("docker CLI", shutil.which("docker")),
    ):
        if not path or not os.access(path, os.X_OK):
            return tool
    return None


@dataclass
class SshServer:
    dir: Path
    port: int
    user: str
    process: subprocess.Popen

    @property
    def docker_host(self) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}"

    def client_env(self, base: dict[str, str]) -> dict[str, str]:
        """``base`` with the ssh wrapper first on PATH."""
        return {**base, "PATH": f"{self.dir / 'bin'}:{base.get('PATH', os.defpath)}"}

    def log(self) -> str:
        return (self.dir / "sshd.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "avops-test", "-f", str(path)],
        check=True,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_sshd(directory: Path) -> SshServer:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    user, port = getpass.getuser(), free_port()
    keygen(directory / "host_key")
    keygen(directory / "user_key")
    shutil.copy(directory / "user_key.pub", directory / "authorized_keys")
    (directory / "sshd_config").write_text(f"""\
ListenAddress 127.0.0.1
Port {port}
HostKey {directory}/host_key
PidFile {directory}/sshd.pid
AuthorizedKeysFile {directory}/authorized_keys
AllowUsers {user}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
""")
    host_key = (directory / "host_key.pub").read_text().split()
    (directory / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    (directory / "ssh_config").write_text(f"""\
Host 127.0.0.1
  IdentityFile {directory}/user_key
  IdentitiesOnly yes
  UserKnownHostsFile {directory}/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  LogLevel ERROR
""")
    wrapper = directory / "bin" / "ssh"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\nexec {SSH} -F {directory}/ssh_config "$@"\n')
    wrapper.chmod(0o755)
    if os.geteuid() == 0:
        # sshd's privilege separation needs this directory; Debian makes it only at service start.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    log = open(directory / "sshd.log", "wb")
    process = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(directory / "sshd_config")],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = SshServer(directory, port, user, process)
    _wait_for_banner(server)
    return server


def _wait_for_banner(server: SshServer, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"sshd exited: {server.log()}")
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=1) as conn:
                if conn.recv(64).startswith(b"SSH-2.0"):
                    return
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"sshd did not answer on port {server.port}: {server.log()}")
