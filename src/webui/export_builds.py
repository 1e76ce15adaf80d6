"""Excel and Parquet downloads built in child processes: bounded, cancellable, cleaned up.

* At most ``limit`` builds run at once; one more is refused (:class:`BuildsBusy`, which the
  route turns into ``503`` with ``Retry-After``) rather than queued behind minutes of work.
* A build is a ``python -m src.export.worker`` child writing into its own scratch directory
  ``<tmp>/telemetry-dashboard-export-<server pid>-<random>/`` (also the child's ``TMPDIR``).
  It is killed when its client disconnects or the server is told to stop
  (:meth:`ExportBuilds.stop_all`), and its directory is removed whatever happens.
* Children are started from one long-lived thread of :class:`ExportBuilds`: the worker's
  parent-death signal (Linux) fires when the *thread* that forked it ends, and the server's
  worker threads end when idle, which killed builds mid-way.
* A dashboard killed outright leaves its scratch directories behind:
  :func:`remove_stale_scratch` (run at start) removes ours, i.e. those with our prefix, owned
  by this user, whose server pid is gone or started after the directory was last written.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO

import anyio
from starlette.requests import Request

from src.export.worker import filter_to_json
from src.query.filters import EventFilter

__all__ = [
    "SCRATCH_PREFIX",
    "BuildFailed",
    "BuildStopped",
    "BuildsBusy",
    "ExportBuilds",
    "remove_stale_scratch",
]

SCRATCH_PREFIX = "telemetry-dashboard-export-"
_SCRATCH_RE = re.compile(re.escape(SCRATCH_PREFIX) + r"(\d+)-")
_PROJECT_ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger("src.webui")


class BuildsBusy(Exception):
    """All build slots are taken (or the server is stopping)."""


class BuildStopped(Exception):
    """The build was cancelled: its client left or the server is stopping."""


class BuildFailed(Exception):
    """The build process failed; the message is its last line of error output."""


class _Build:
    def __init__(self, owner: ExportBuilds, base: Path, flt: EventFilter, fmt: str) -> None:
        self.owner = owner
        self.scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))
        self.output = self.scratch / f"export.{fmt}"
        self.reason: str | None = None
        spec = {
            "base": os.path.abspath(base),  # the child runs in the scratch directory
            "format": fmt,
            "output": str(self.output),
            "parent": os.getpid(),
            "filter": filter_to_json(flt),
        }
        env = dict(os.environ)
        env["TMPDIR"] = str(self.scratch)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(_PROJECT_ROOT), env.get("PYTHONPATH")) if p
        )
        self._stderr = open(self.scratch / "worker.log", "wb")  # noqa: SIM115 - closed in close()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "src.export.worker", json.dumps(spec)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self._stderr,
                env=env,
                cwd=self.scratch,
                close_fds=True,
            )
        except BaseException:
            self._stderr.close()
            shutil.rmtree(self.scratch, ignore_errors=True)
            raise

    def cancel(self, reason: str) -> None:
        """Kill the child (idempotent; the first reason is kept)."""
        if self.reason is None:
            self.reason = reason
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass

    async def wait(self, request: Request) -> None:
        """Until the child exits; cancel it if the client disconnects meanwhile."""

        async def watch() -> None:
            while True:
                message = await request.receive()
                if message["type"] == "http.disconnect":
                    self.cancel("client disconnected")
                    return

        async with anyio.create_task_group() as tg:
            tg.start_soon(watch)
            try:
                await anyio.to_thread.run_sync(self.proc.wait, abandon_on_cancel=True)
            finally:
                tg.cancel_scope.cancel()
        if self.reason is not None:
            raise BuildStopped(self.reason)
        if self.proc.returncode != 0:
            raise BuildFailed(self._last_error())

    def open_result(self) -> tuple[IO[bytes], int]:
        """The finished file, open for reading, and its size."""
        fh = open(self.output, "rb")  # noqa: SIM115 - the response closes it
        return fh, os.fstat(fh.fileno()).st_size

    def _last_error(self) -> str:
        self._stderr.flush()
        try:
            lines = (self.scratch / "worker.log").read_bytes().decode(errors="replace")
        except OSError:
            lines = ""
        last = [line for line in lines.splitlines() if line.strip()][-1:]
        if not last:
            return f"exit status {self.proc.returncode}"
        return last[0].removeprefix("error: ")[:300]

    def close(self) -> None:
        """Kill the child if it still runs, reap it, remove the scratch dir, free the slot."""
        self.cancel(self.reason or "finished")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not refused
            log.error("export build %d did not exit after SIGKILL", self.proc.pid)
        self._stderr.close()
        shutil.rmtree(self.scratch, ignore_errors=True)
        self.owner._release(self)


class ExportBuilds:
    """The running builds of one app (see the module docstring)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._running: set[_Build] = set()
        self.stopping = False
        # Its one thread lives as long as this object (it is never idle-reaped).
        self._spawner = ThreadPoolExecutor(1, thread_name_prefix="export-spawner")

    @property
    def running(self) -> int:
        return len(self._running)

    def start(self, base: Path, flt: EventFilter, fmt: str) -> _Build:
        """Start a build in a free slot, or raise :class:`BuildsBusy` (from any thread: the
        child is forked by the spawner thread, which outlives the caller's)."""
        return self._spawner.submit(self._start, base, flt, fmt).result()

    def _start(self, base: Path, flt: EventFilter, fmt: str) -> _Build:
        with self._lock:
            if self.stopping:
                raise BuildsBusy("the dashboard is shutting down")
            if len(self._running) >= self.limit:
                raise BuildsBusy(
                    f"{self.limit} export(s) are being built already; try again shortly"
                )
            build = _Build(self, base, flt, fmt)
            self._running.add(build)
        return build

    def _release(self, build: _Build) -> None:
        with self._lock:
            self._running.discard(build)

    def stop_all(self, reason: str = "server stopping") -> None:
        """Refuse new builds and kill the running ones (safe from a signal handler)."""
        self.stopping = True
        for build in list(self._running):
            build.cancel(reason)


def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def _process_started(pid: int) -> float | None:
    """When process ``pid`` started (epoch seconds; Linux), None when unknown."""
    boot = _boot_time()
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
        ticks = int(raw[raw.rindex(")") + 2 :].split()[19])
    except (OSError, ValueError, IndexError):
        return None
    if boot is None:
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_scratch(root: str | os.PathLike[str] | None = None) -> list[Path]:
    """Remove scratch directories left by dashboards that are gone; the ones removed."""
    root = Path(root or tempfile.gettempdir())
    removed: list[Path] = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return removed
    for entry in entries:
        m = _SCRATCH_RE.match(entry.name)
        if not m:
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
            continue
        pid = int(m.group(1))
        if _alive(pid):
            started = _process_started(pid)
            # A live pid that started after the directory was last written is a reused pid.
            if started is None or st.st_mtime >= started - 1.0:
                continue
        path = Path(entry.path)
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            removed.append(path)
            log.warning("removed a stale export scratch directory %s (pid %d is gone)", path, pid)
    return removed
