"""Hostile-input costs (hardening issue): long lines, archived sessions, many sessions.

Three measurements, each against a baseline taken in the same run:

``long line, read backward``
    A file holding one line of 8, 16 and 32 MB between two ordinary events, read newest
    first (what the dashboard and ``--timeline`` do). Baseline: reading the same file
    forward. The issue's figures before the fix were 1.1 s for 16 MB and 6.9 s for 32 MB
    (quadratic); the target is linear growth: the 32 MB read costs about twice the 16 MB one.
``sessions index, archived sessions``
    The dashboard index (``SessionIndex.describe``) over 3,000 gzip-archived sessions: the
    first load, then a reload with nothing changed. Baseline: listing the sessions alone.
    Before the fix every load decompressed every archive (8-9 s); the target is a reload
    that reads no gzip data, within a small factor of the listing.
``timeline across sessions``
    The newest 200 events over 2,000 sessions (``--timeline`` without ``--session``), with
    the descriptors the process had open at the peak. Baseline: the newest 200 of one
    session. Before the fix this opened one descriptor per session (EMFILE at
    ``ulimit -n 1024``).

``BENCH_DATA_DIR`` sets where the files are written (default ``/tmp/execution-telemetry-bench``).
"""

from __future__ import annotations

import gzip
import os
import platform
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks._sessions import DEFAULT_DATA_DIR
from src.execution.events import ExecutionEvent
from src.execution.serialization import encode_event_line
from src.query.engine import tail
from src.query.files import list_sessions
from src.query.filters import EventFilter
from src.query.lines import iter_lines, iter_lines_reversed
from src.webui.sessions import SessionIndex

LONG_LINE_MB = (8, 16, 32)
ARCHIVED_SESSIONS = 3_000
TIMELINE_SESSIONS = 2_000
EVENTS_PER_SESSION = 40
T0 = datetime(2025, 12, 20, tzinfo=UTC)


def _event(session: str, i: int, **payload: object) -> bytes:
    return encode_event_line(
        ExecutionEvent(
            ts=T0 + timedelta(seconds=i),
            session_id=session,
            symbol="BTC-USD",
            mode="paper",
            kind="fill" if i % 4 == 3 else "intent",
            payload={"intent_id": f"int-{i}", **payload},
        )
    )


def _session_lines(session: str, start: int = 0) -> bytes:
    return b"".join(_event(session, start + i) for i in range(EVENTS_PER_SESSION))


def _best_of(fn: Callable[[], object], runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _drain(iterator) -> int:
    return sum(1 for _ in iterator)


def bench_long_lines(work: Path) -> None:
    print("long line, read backward (best of 3)")
    times: dict[int, float] = {}
    for mb in LONG_LINE_MB:
        path = work / f"long-{mb}.jsonl"
        with open(path, "wb") as fh:
            fh.write(_event("long", 0))
            fh.write(_event("long", 1, note="x" * (mb << 20))[:-1] + b"\n")
            fh.write(_event("long", 2))
        forward = _best_of(lambda p=path: _drain(iter_lines(p)))
        backward = _best_of(lambda p=path: _drain(iter_lines_reversed(p)))
        times[mb] = backward
        print(
            f"  {mb:3d} MB line: backward {backward * 1000:8.1f} ms"
            f"   forward {forward * 1000:7.1f} ms   ratio {backward / forward:5.2f}x"
        )
        path.unlink()
    first, last = LONG_LINE_MB[0], LONG_LINE_MB[-1]
    print(
        f"  growth {first} -> {last} MB: {times[last] / times[first]:.1f}x for "
        f"{last / first:.0f}x the bytes (linear: ~{last / first:.0f}x;"
        " the issue measured 6.3x for 16 -> 32 MB)"
    )


def _write_archived(root: Path, sessions: int) -> None:
    for n in range(sessions):
        session = f"arch-{n:05d}"
        with gzip.open(root / f"{session}.jsonl.gz", "wb", compresslevel=1) as fh:
            fh.write(_session_lines(session))


def bench_index(work: Path) -> None:
    root = work / "archived"
    root.mkdir()
    _write_archived(root, ARCHIVED_SESSIONS)
    listing = _best_of(lambda: list_sessions(root))
    index = SessionIndex(root)
    t0 = time.perf_counter()
    rows = index.describe()
    first = time.perf_counter() - t0
    reload = _best_of(index.describe)
    assert len(rows) == ARCHIVED_SESSIONS, len(rows)
    print(f"sessions index, {ARCHIVED_SESSIONS:,} gzip-archived sessions")
    print(f"  listing alone (baseline) {listing * 1000:8.1f} ms")
    print(f"  first load               {first * 1000:8.1f} ms   ratio {first / listing:6.1f}x")
    print(
        f"  reload, nothing changed  {reload * 1000:8.1f} ms   ratio {reload / listing:6.1f}x"
        "   (before the fix: 8-9 s, every archive decompressed)"
    )


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _peak_fds(fn: Callable[[], object]) -> tuple[int, int]:
    """(descriptors before, peak while ``fn`` ran), sampled by a thread every 0.2 ms."""
    before = _open_fds()
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _open_fds())
            time.sleep(0.0002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        fn()
    finally:
        done.set()
        sampler.join()
    return before, peak


def bench_timeline(work: Path) -> None:
    root = work / "many"
    root.mkdir()
    for n in range(TIMELINE_SESSIONS):
        session = f"many-{n:05d}"
        (root / f"{session}.jsonl").write_bytes(_session_lines(session, start=n))
    everything = EventFilter.build()
    one = EventFilter.build(session_id="many-00000")
    single = _best_of(lambda: tail(root, one, 200))
    across = _best_of(lambda: tail(root, everything, 200))
    before, peak = _peak_fds(lambda: tail(root, everything, 200))
    print(f"timeline across {TIMELINE_SESSIONS:,} sessions, newest 200 events")
    print(f"  one session (baseline)   {single * 1000:8.1f} ms")
    print(f"  all sessions             {across * 1000:8.1f} ms   ratio {across / single:6.1f}x")
    print(f"  descriptors open: {before} before, {peak} at the peak (sampled)")


def main() -> None:
    print(
        f"hardening benchmarks  {datetime.now(UTC):%Y-%m-%d}  {platform.python_version()}"
        f"  {os.cpu_count()} cores"
    )
    base = Path(os.environ.get("BENCH_DATA_DIR", DEFAULT_DATA_DIR))
    base.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="hardening-", dir=base))
    try:
        bench_long_lines(work)
        bench_index(work)
        bench_timeline(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
