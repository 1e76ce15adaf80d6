"""The dashboard served by a real uvicorn in its own process on loopback (so a load
generator does not share its GIL), configured as ``telemetry-dashboard`` runs it, as
shipped or with one or all of its caches replaced by the simple path (the variants, to
see what each cache pays; the replacements live here, not in the app)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2 as httpx

from benchmarks._sessions import REPO_ROOT

__all__ = ["POLL_INTERVAL_S", "VARIANTS", "DashboardServer"]

POLL_INTERVAL_S = 0.05  # the live feed's poll interval
VARIANTS = ("cached", "no-head-cache", "no-sorted-samples", "simple")

_SERVER_CODE = """
import sys
from pathlib import Path

import uvicorn

from src.query.filters import EventFilter
from src.query.paging import page_back
from src.webui.app import create_app
from src.webui.settings import WebSettings
from src.webui.state import HeadCache

base, port, poll = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
variant = sys.argv[4]
settings = WebSettings(base_path=base, port=port, poll_interval_s=poll)
if variant in ("no-sorted-samples", "simple"):
    import src.query.incremental as incremental
    incremental.SortedSamples = lambda: None  # every summary sorts its samples in full
app = create_app(settings=settings)

class ReadEachTime(HeadCache):  # every first page read with page_back
    def page(self, session_id, kind, limit, before=None):
        if before is not None:
            return super().page(session_id, kind, limit, before)
        flt = EventFilter.build(session_id=session_id, kind=kind)
        page = page_back(self._base, flt, limit)
        return [self._render(r) for r in page.records], page.next_cursor

if variant in ("no-head-cache", "simple"):
    app.state.heads = ReadEachTime(settings)
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DashboardServer:
    """``uvicorn`` serving ``create_app`` over ``base`` in a child process on loopback."""

    def __init__(self, base: Path, variant: str = "cached") -> None:
        self.base = base
        self.variant = variant
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> DashboardServer:
        argv = [sys.executable, "-c", _SERVER_CODE, str(self.base), str(self.port)]
        self.proc = subprocess.Popen(
            [*argv, str(POLL_INTERVAL_S), self.variant],
            cwd=REPO_ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dashboard server exited at start:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"dashboard server did not start within 30 s:\n{self.output()}")

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()

    def cpu_s(self) -> float | None:
        """CPU seconds (user + system, all threads) the server process has used so far."""
        try:
            with open(f"/proc/{self.proc.pid}/stat") as fh:  # type: ignore[union-attr]
                fields = fh.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def output(self) -> str:
        if self._log.closed:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")
