"""A real monitoring daemon (Debian's Prometheus or Alertmanager) on a free loopback port:
started with its output in a log file, ready once ``/-/ready`` answers (a bounded wait),
asked for JSON, and stopped. Shared by the Prometheus and the Alertmanager tests."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.deploy.tools import binary

__all__ = ["LoopbackDaemon", "free_port"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoopbackDaemon:
    """``program args...`` listening on ``127.0.0.1:port`` (the args say so), its output in
    ``log_path``; the constructor returns once it is ready (or fails after ``wait_s``)."""

    def __init__(
        self, program: str, args: list[str], port: int, log_path: Path, wait_s: float
    ) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [binary(program), *args], stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + wait_s
        while True:
            assert self.proc.poll() is None, log_path.read_text()
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            assert time.monotonic() < deadline, f"{program} did not get ready"
            time.sleep(0.1)

    def get(self, path: str) -> Any:
        """The JSON document at ``path``."""
        with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as r:
            return json.loads(r.read())

    def post(self, path: str, body: Any) -> Any:
        """POST ``body`` as JSON to ``path``; the JSON answer."""
        request = urllib.request.Request(
            f"{self.url}{path}", data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as r:
            return json.loads(r.read())

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(30)
        self._log.close()
