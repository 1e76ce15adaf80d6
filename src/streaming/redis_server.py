"""A throw-away ``redis-server`` on a free loopback port, for tests and benchmarks.

Nothing is persisted (``--save "" --appendonly no``), it listens on 127.0.0.1 only and
keeps its files in the directory it is given. :meth:`RedisServer.stop` and
:meth:`RedisServer.start` again keep the port, so clients see Redis go away and come back.
Needs no Python Redis client: readiness is a raw ``PING``.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

__all__ = ["RedisServer", "free_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """Start, stop, restart and kill a local ``redis-server`` process."""

    def __init__(
        self,
        directory: str | Path,
        *,
        port: int | None = None,
        executable: str = "redis-server",
        extra_args: tuple[str, ...] = (),
    ) -> None:
        # Absolute: redis-server changes into --dir before it opens --logfile.
        self.directory = Path(directory).resolve()
        self.port = port or free_port()
        self._fixed_port = port is not None
        self.executable = executable
        self.extra_args = extra_args
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 10.0) -> RedisServer:
        """Start the server and wait until it answers ``PING``."""
        if self.running:
            return self
        if shutil.which(self.executable) is None:
            raise FileNotFoundError(
                f"{self.executable} not found: run scripts/install_system_deps.sh "
                "(make test does it)"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        for _attempt in range(3):
            self.proc = subprocess.Popen(
                [
                    self.executable,
                    "--port", str(self.port),
                    "--bind", "127.0.0.1",
                    "--save", "",
                    "--appendonly", "no",
                    "--dir", str(self.directory),
                    "--logfile", str(self.directory / "redis.log"),
                    "--daemonize", "no",
                    *self.extra_args,
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            if self._wait_ready(timeout):
                return self
            self._terminate()
            if self._fixed_port:
                break
            self.port = free_port()  # someone took the port between probe and bind
        log = self.directory / "redis.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise RuntimeError(f"redis-server did not start on 127.0.0.1:{self.port}\n{tail}")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            if self.ping():
                return True
            time.sleep(0.01)
        return False

    def ping(self) -> bool:
        """Whether the server answers ``PING`` right now (``NOAUTH`` counts: it is up)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as sock:
                sock.sendall(b"*1\r\n$4\r\nPING\r\n")
                return sock.recv(64).startswith((b"+PONG", b"-NOAUTH"))
        except OSError:
            return False

    def stop(self, timeout: float = 10.0) -> None:
        """Shut the server down (SIGTERM; SIGKILL if it does not exit in time)."""
        self._terminate(timeout)

    def kill(self) -> None:
        """SIGKILL the server: clients see the connection vanish."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def restart(self, timeout: float = 10.0) -> RedisServer:
        self.stop()
        return self.start(timeout)

    def _terminate(self, timeout: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
