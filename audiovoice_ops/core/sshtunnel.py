"""``DOCKER_HOST=ssh://user@host[:port]`` through the system ``ssh`` client, as the docker CLI does it.

docker-py's own ssh transport imports paramiko even when told to shell out to ``ssh``
(``use_ssh_client=True``), so without paramiko installed ssh:// fails with "Install paramiko package".
Instead avops serves a private Unix socket (a 0700 directory of its own) and bridges each connection
the SDK opens to ``ssh [-l user] [-p port] -- host docker system dial-stdio``: the same command the
docker CLI runs, so ``~/.ssh/config``, agents and known_hosts apply, and the remote host needs only
sshd and the docker CLI. ssh runs in its own session: it has no terminal to prompt on (it fails
instead of hanging) and Ctrl-C reaches avops, which then closes the bridges.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from typing import IO, cast
from urllib.parse import urlsplit

CHUNK = 64 * 1024
CONNECT_TIMEOUT_S = 15


def ssh_command(url: str) -> list[str]:
    """``ssh://user@host:2222`` -> ``ssh -o ConnectTimeout=15 -l user -p 2222 -- host docker system dial-stdio``."""
    parts = urlsplit(url)
    command = ["ssh", "-o", f"ConnectTimeout={CONNECT_TIMEOUT_S}"]
    if parts.username:
        command += ["-l", parts.username]
    if parts.port:
        command += ["-p", str(parts.port)]
    return [*command, "--", parts.hostname or "", "docker", "system", "dial-stdio"]


class SshTunnel:
    """A local Unix socket whose every connection is a ``docker system dial-stdio`` over ssh."""

    def __init__(self, url: str):
        self.command = ssh_command(url)
        self.last_error = ""  # ssh's last stderr line: why a connection failed
        self._dir = tempfile.mkdtemp(prefix="avops-ssh-")  # mode 0700: only this user connects
        self.path = os.path.join(self._dir, "docker.sock")
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(self.path)
        self._server.listen(16)
        self._procs: list[subprocess.Popen] = []
        self._closed = False
        threading.Thread(target=self._serve, name="avops-ssh-accept", daemon=True).start()
        atexit.register(self.close)

    @property
    def base_url(self) -> str:
        return f"unix://{self.path}"

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._server.close()
        for proc in self._procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self._procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(self._dir, ignore_errors=True)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:  # closed
                return
            threading.Thread(
                target=self._bridge, args=(conn,), name="avops-ssh-bridge", daemon=True
            ).start()

    def _bridge(self, conn: socket.socket) -> None:
        try:
            proc = subprocess.Popen(
                self.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:  # no ssh binary
            self.last_error = f"cannot run ssh: {exc.strerror or exc}"
            conn.close()
            return
        self._procs.append(proc)
        # Popen(stdin=PIPE, stdout=PIPE, stderr=PIPE) opens all three (typeshed types them Optional).
        stdin, stdout, stderr = (
            cast(IO[bytes], pipe) for pipe in (proc.stdin, proc.stdout, proc.stderr)
        )
        threading.Thread(target=self._collect_stderr, args=(stderr,), daemon=True).start()
        upstream = threading.Thread(target=self._to_ssh, args=(conn, stdin), daemon=True)
        upstream.start()
        try:
            while chunk := os.read(stdout.fileno(), CHUNK):
                conn.sendall(chunk)
        except OSError:
            pass
        finally:
            # shutdown, not only close: the upstream thread is blocked reading conn, and a close
            # alone sends no end-of-file, so the Docker client would wait out its timeout (60 s)
            # for a host whose ssh already failed.
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the client went away first
            conn.close()
            stdout.close()
            if proc.poll() is None:
                proc.terminate()
            proc.wait()

    @staticmethod
    def _to_ssh(conn: socket.socket, stdin: IO[bytes]) -> None:
        try:
            while chunk := conn.recv(CHUNK):
                stdin.write(chunk)
                stdin.flush()
        except (OSError, ValueError):  # the client or ssh went away
            pass
        finally:
            try:
                stdin.close()
            except OSError:
                pass

    def _collect_stderr(self, stderr: IO[bytes]) -> None:
        for raw in stderr:
            line = raw.decode(errors="replace").strip()
            if line:
                self.last_error = line
        stderr.close()
