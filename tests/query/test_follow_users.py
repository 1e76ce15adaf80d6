"""Every follower of growing session files reads through the one SessionFollower, and one
scenario (appends, a torn line completed later, daily rotation, a late line on yesterday's
file, retention compressing it, truncation and regrowth of today's file to the same size)
leaves each of them where the simple path is (a fresh full read; for a feed from the end:
each line written after it started, once)."""

from __future__ import annotations

import asyncio
import gzip
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from src.alerts.tracker import FileTracker
from src.query import follow
from src.query.filters import EventFilter
from src.query.head import LiveHead
from src.query.incremental import IncrementalSummary
from src.query.paging import page_back
from src.query.records import Record
from src.webui.live import FeedHub
from src.webui.sessions import SessionIndex


def event(seq: int) -> bytes:
    doc = {
        "ts": f"2025-01-01T00:00:{seq:02d}Z",
        "session_id": "s",
        "symbol": "X",
        "mode": "paper",
        "kind": "fill" if seq % 2 else "order",
        "payload": {"n": seq},
    }
    return (json.dumps(doc) + "\n").encode()


class Scenario:
    """The session on disk, changed step by step; ``after_start`` are the seqs written
    after the user started (what a feed from the end must deliver, once each)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.day1 = base / "2025-01-01" / "s.jsonl"
        self.day2 = base / "2025-01-02" / "s.jsonl"
        self.day1.parent.mkdir()
        self.seq = 0
        self.after_start: list[int] = []
        self.write(self.day1, 2)

    def write(self, path: Path, count: int, *, tail: bytes = b"") -> None:
        with open(path, "ab") as fh:
            for _ in range(count):
                self.seq += 1
                self.after_start.append(self.seq)
                fh.write(event(self.seq))
            fh.write(tail)

    def steps(self) -> list[Callable[[], None]]:
        torn = event(100)

        def torn_line() -> None:
            self.write(self.day1, 1, tail=torn[:15])

        def completed() -> None:
            with open(self.day1, "ab") as fh:
                fh.write(torn[15:])
            self.after_start.append(100)
            self.write(self.day1, 1)

        def rotation() -> None:
            self.write(self.day1, 1)  # the last line of the day, then the next day's file
            self.day2.parent.mkdir()
            self.write(self.day2, 2)

        def late_line() -> None:  # a writer still finishing yesterday's file
            with open(self.day1, "ab") as fh:
                fh.write(b"\n")  # (an event here would be summed after day 2's events)

        def compression() -> None:
            gz = self.day1.with_suffix(".jsonl.gz")
            with open(self.day1, "rb") as src, gzip.open(gz, "wb") as dst:
                shutil.copyfileobj(src, dst)
            self.day1.unlink()

        def regrowth() -> None:
            size = self.day2.stat().st_size
            with open(self.day2, "r+b") as fh:  # same inode, same size, other events
                fh.truncate(0)
                fh.write(event(8) + event(9))  # day2 held 6 and 7: as long
            assert self.day2.stat().st_size == size
            self.after_start += [8, 9]
            self.seq = 200
            self.write(self.day2, 1)

        return [torn_line, completed, rotation, late_line, compression, regrowth]


def _incremental(base: Path) -> Callable[[Scenario], tuple[Any, Any]]:
    inc = IncrementalSummary(base, "s", max_age_s=0)

    def check(sc: Scenario) -> tuple[Any, Any]:
        fresh = IncrementalSummary(base, "s", max_age_s=0)  # reads everything from scratch
        return inc.refresh(as_of=0), fresh.refresh(as_of=0)

    return check


def _tracker(base: Path) -> Callable[[Scenario], tuple[Any, Any]]:
    tracker = FileTracker(base, "s", 60.0)

    def check(sc: Scenario) -> tuple[Any, Any]:
        fresh = FileTracker(base, "s", 60.0)
        return tuple(t.view(0.0, running=None, last_write_t=None).summary for t in (tracker, fresh))

    return check


def _head(base: Path) -> Callable[[Scenario], tuple[Any, Any]]:
    flt = EventFilter.build(session_id="s")

    def render(rec: Record) -> int:
        return int(rec.payload["n"])

    head = LiveHead(base, flt, 4, render)

    def check(sc: Scenario) -> tuple[Any, Any]:
        page = page_back(base, flt, 4)
        return head.refresh(), ([render(r) for r in page.records], page.next_cursor)

    return check


def _feed(base: Path) -> Callable[[Scenario], tuple[Any, Any]]:
    async def start() -> Any:
        hub = FeedHub(base, poll_interval=3600, queue_size=1000)  # polled by the test
        await hub.subscribe("s")
        feed = hub._feeds["s"]
        assert feed.task is not None
        feed.task.cancel()
        return feed

    feed = asyncio.run(start())
    delivered: list[int] = []

    def check(sc: Scenario) -> tuple[Any, Any]:
        delivered.extend(row["details"]["n"] for row in feed.read(True))
        return delivered, sc.after_start

    return check


def _index(base: Path) -> Callable[[Scenario], tuple[Any, Any]]:
    index = SessionIndex(base)
    return lambda sc: (index.describe(), SessionIndex(base).describe())


USERS = {
    "incremental summary": _incremental,
    "alert tracker": _tracker,
    "dashboard newest page": _head,
    "live feed": _feed,
    "sessions index": _index,
}


@pytest.mark.parametrize("user", USERS)
def test_each_user_reads_through_the_follower_and_matches_the_simple_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, user: str
) -> None:
    polled: list[follow.SessionFollower] = []
    real_poll = follow.SessionFollower.poll

    def spy(self: follow.SessionFollower, **kw: Any) -> Any:
        polled.append(self)
        return real_poll(self, **kw)

    monkeypatch.setattr(follow.SessionFollower, "poll", spy)
    sc = Scenario(tmp_path)
    check = USERS[user](tmp_path)
    sc.after_start.clear()  # written before the user started
    got, want = check(sc)
    assert got == want
    for step in sc.steps():
        step()
        before = len(polled)
        got, want = check(sc)
        assert got == want, step.__name__
        assert len(polled) > before, f"{user} did not poll its follower after {step.__name__}"
    assert {id(f) for f in polled} and all(f.session_id == "s" for f in polled)
