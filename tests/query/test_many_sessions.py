"""Reading across many sessions holds a bounded number of files open, also when it fails."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from src.query.engine import tail
from src.query.filters import EventFilter

ROOT = Path(__file__).resolve().parents[2]
SESSIONS = 300


def write_sessions(base: Path, count: int = SESSIONS) -> None:
    base.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        lines = [
            {
                "ts": f"2025-12-20T10:{n % 60:02d}:{k:02d}Z",
                "session_id": f"s{n:04d}",
                "symbol": "BTC-USD",
                "mode": "paper",
                "kind": "fill",
                "payload": {"n": n, "k": k},
            }
            for k in range(3)
        ]
        (base / f"s{n:04d}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_timeline_over_300_sessions_runs_with_64_descriptors(tmp_path):
    """`--timeline` without `--session` under `ulimit -n 64` over 300 sessions: no EMFILE."""
    write_sessions(tmp_path / "logs")

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    command = [sys.executable, "-m", "src.cli.view_telemetry", "--path", str(tmp_path / "logs")]
    done = subprocess.run(
        [*command, "--timeline", "50", "--plain"],
        cwd=ROOT,
        preexec_fn=low_limit,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if "FILL" in line.upper()]
    assert len(rows) == 50


class FailingFilter(EventFilter):
    """A filter that breaks after some events, like any error in the middle of a merge."""

    def __init__(self, after: int) -> None:
        super().__init__()
        object.__setattr__(self, "_left", after)

    def matches(self, kind, symbol, t) -> bool:  # type: ignore[no-untyped-def]
        object.__setattr__(self, "_left", self._left - 1)
        if self._left < 0:
            raise RuntimeError("broken mid-way")
        return True


def test_a_merge_that_fails_mid_way_leaves_no_file_open(tmp_path):
    write_sessions(tmp_path / "logs")
    assert len(tail(tmp_path / "logs", EventFilter(), 100)) == 100
    before = open_fds()
    with pytest.raises(RuntimeError, match="mid-way") as failed:
        tail(tmp_path / "logs", FailingFilter(after=500), 2000)
    # Even while the error's traceback (and so the merge's frames) is still alive, as in a
    # server that keeps or logs it: nothing is left open.
    assert failed.tb is not None
    assert open_fds() == before
    # The merge is newest first across sessions, exactly.
    newest = tail(tmp_path / "logs", EventFilter(), 10)
    ts = [r.t for r in newest]
    assert ts == sorted(ts, reverse=True)
    assert newest[0].data["ts"] == "2025-12-20T10:59:02Z"


PARALLEL_UNDER_LOW_LIMIT = """
import resource, sys
from pathlib import Path
from src.query.engine import scan_files
from src.query.files import list_sessions
from src.query.parallel import scan_parallel
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
paths = [p for s in list_sessions(sys.argv[1]) for p in s.files]
done = scan_parallel(paths, 60.0, None, None, workers=2, range_bytes=20_000)
assert done is not None, "the parallel scan gave up"
want = scan_files(paths, 60.0, None, None)
assert done[1].as_dict() == want[1].as_dict(), (done[1], want[1])
print(done[1].valid_events)
"""


def test_a_parallel_summary_over_300_sessions_runs_with_64_descriptors(tmp_path):
    """The parallel scan holds only its biggest files open (the others are read by path),
    so it does not fall back (or fail) for want of descriptors."""
    write_sessions(tmp_path / "logs")
    done = subprocess.run(
        [sys.executable, "-c", PARALLEL_UNDER_LOW_LIMIT, str(tmp_path / "logs")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(3 * SESSIONS)


@pytest.mark.parametrize("seed", range(6))
def test_the_chunked_merge_gives_what_one_merge_of_whole_sessions_gives(tmp_path, seed):
    """Sessions of plain and gzip files, a filter, any limit: the same events in the same
    order as merging every session's full newest-first list."""
    import gzip
    import heapq
    import random

    from src.query.files import list_sessions
    from src.query.paging import page_back

    rnd = random.Random(seed)
    base = tmp_path / "logs"
    base.mkdir()
    for n in range(rnd.randint(2, 12)):
        sid = f"s{n}"
        for part, gz in ((0, True), (1, False)):
            day = base / f"2025-12-{20 + part}"
            day.mkdir(exist_ok=True)
            text = "".join(
                json.dumps(
                    {
                        "ts": f"2025-12-{20 + part}T10:{rnd.randrange(60):02d}:00Z",
                        "session_id": sid,
                        "kind": rnd.choice(["fill", "order"]),
                        "payload": {"n": k},
                    }
                )
                + "\n"
                for k in range(rnd.randint(0, 80))
            )
            path = day / f"{sid}.jsonl{'.gz' if gz else ''}"
            path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    flt = EventFilter.build(kind="fill")
    whole = [  # in the order sessions are listed (ties between sessions go by it)
        page_back(base, EventFilter.build(session_id=s.session_id, kind="fill"), 10**6).records
        for s in list_sessions(base)
    ]
    for limit in (1, 7, 50, 10**4):
        want = list(heapq.merge(*whole, key=lambda r: -r.t))[:limit]
        assert [r.data for r in tail(base, flt, limit)] == [r.data for r in want]
