"""LiveHead: after any sequence of appends, torn lines, rotations and rewrites, its page is
exactly what page_back returns at that moment, and appends are read incrementally."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from src.query.filters import EventFilter
from src.query.head import LiveHead
from src.query.paging import page_back
from src.query.records import Record

KINDS = ["intent", "order", "fill", "gate", "error"]


def line(n: int, kind: str, symbol: str = "X") -> bytes:
    event = {
        "ts": f"2025-01-01T00:{n // 3600 % 60:02d}:{n // 60 % 60:02d}.{n % 60:06d}Z",
        "session_id": "s",
        "symbol": symbol,
        "mode": "paper",
        "kind": kind,
        "payload": {"n": n},
    }
    return (json.dumps(event) + "\n").encode()


def render(rec: Record) -> int:
    return rec.payload["n"]


def expected(base: Path, flt: EventFilter, limit: int) -> tuple[list[int], str | None]:
    page = page_back(base, flt, limit)
    return [render(r) for r in page.records], page.next_cursor


class Session:
    """A session on disk that the test changes step by step."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.n = 0
        self.day = 0
        self.path = base / "s.jsonl"
        self.path.write_bytes(b"")
        self.older: list[Path] = []  # plain files before the newest

    def append(self, kinds: list[str]) -> None:
        with open(self.path, "ab") as fh:
            for kind in kinds:
                self.n += 1
                fh.write(line(self.n, kind, symbol="Y" if self.n % 3 == 0 else "X"))

    def write_raw(self, data: bytes) -> None:
        with open(self.path, "ab") as fh:
            fh.write(data)

    def rotate(self) -> None:
        """A new daily file; the events go on there."""
        if self.path.exists():
            self.older.append(self.path)
        self.day += 1
        folder = self.base / f"2099-01-{self.day:02d}"
        folder.mkdir()
        self.path = folder / "s.jsonl"
        self.path.write_bytes(b"")

    def compress(self) -> None:
        """Retention: the current flat file becomes .jsonl.gz (a new inode), unless daily."""
        if self.path.parent != self.base or not self.path.stat().st_size:
            return
        with open(self.path, "rb") as src, gzip.open(self.base / "s.jsonl.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
        self.path.unlink()
        self.rotate()

    def late(self, kinds: list[str]) -> None:
        """A writer still on the previous file after a rollover appends there."""
        if self.older:
            newest, self.path = self.path, self.older[-1]
            self.append(kinds)
            self.path = newest

    def regrow(self, kinds: list[str]) -> None:
        """The newest file truncated in place (same inode) and written again, longer."""
        with open(self.path, "r+b") as fh:
            fh.truncate(0)
        self.append(kinds * 3)

    def rewrite(self) -> None:
        """The newest file replaced by a shorter copy (a new inode, fewer bytes)."""
        data = self.path.read_bytes()
        keep = data[: data.rfind(b"\n", 0, max(0, len(data) - 1)) + 1]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(keep)
        os.replace(tmp, self.path)


STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.lists(st.sampled_from(KINDS), min_size=1, max_size=12)),
        st.tuples(st.just("torn"), st.sampled_from([b'{"ts": "2025-', b"{", b"garbage"])),
        st.tuples(st.just("finish"), st.sampled_from([b"\n", b'"}\n', b"\n\n"])),
        st.tuples(st.just("junk"), st.sampled_from([b"not json\n", b"[1, 2]\n", b"\n"])),
        st.tuples(st.just("rotate"), st.none()),
        st.tuples(st.just("compress"), st.none()),
        st.tuples(st.just("rewrite"), st.none()),
        st.tuples(st.just("late"), st.lists(st.sampled_from(KINDS), min_size=1, max_size=4)),
        st.tuples(st.just("regrow"), st.lists(st.sampled_from(KINDS), min_size=1, max_size=6)),
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=STEPS,
    limit=st.integers(1, 15),
    kind=st.sampled_from([None, "fill", "order"]),
    symbol=st.sampled_from([None, "Y"]),
)
def test_head_matches_page_back_after_every_step(tmp_path_factory, steps, limit, kind, symbol):
    base = tmp_path_factory.mktemp("logs")
    session = Session(base)
    flt = EventFilter.build(session_id="s", kind=kind, symbol=symbol)
    head = LiveHead(base, flt, limit, render)
    assert head.refresh() == expected(base, flt, limit)
    for op, arg in steps:
        if op == "append":
            session.append(arg)
        elif op in ("torn", "finish", "junk"):
            session.write_raw(arg)
        elif arg is None:
            getattr(session, op)()
        else:
            getattr(session, op)(arg)
        assert head.refresh() == expected(base, flt, limit), (op, arg)


def test_appends_are_read_incrementally(tmp_path):
    """Appending to the newest file does not rebuild the page; a rewrite does."""
    session = Session(tmp_path)
    session.append(["fill"] * 30)
    flt = EventFilter.build(session_id="s", kind="fill")
    head = LiveHead(tmp_path, flt, 10, render)
    assert head.refresh()[0] == list(range(30, 20, -1))
    assert head.rebuilds == 1
    for _ in range(5):
        session.append(["fill", "order"])
        assert head.refresh() == expected(tmp_path, flt, 10)
    assert head.rebuilds == 1
    session.rewrite()
    assert head.refresh() == expected(tmp_path, flt, 10)
    assert head.rebuilds == 2


def test_each_event_is_rendered_once(tmp_path):
    session = Session(tmp_path)
    session.append(["fill"] * 5)
    rendered: list[int] = []

    def counting(rec: Record) -> int:
        rendered.append(rec.payload["n"])
        return rec.payload["n"]

    head = LiveHead(tmp_path, EventFilter.build(session_id="s"), 3, counting)
    head.refresh()
    session.append(["fill"] * 2)
    head.refresh()
    head.refresh()
    assert sorted(rendered) == [3, 4, 5, 6, 7]


def test_missing_session_and_bad_arguments(tmp_path):
    head = LiveHead(tmp_path, EventFilter.build(session_id="nope"), 5, render)
    assert head.refresh() == ([], None)
    with pytest.raises(ValueError, match="needs a session"):
        LiveHead(tmp_path, EventFilter.build(), 5, render)
    with pytest.raises(ValueError, match="limit must be positive, got 0"):
        LiveHead(tmp_path, EventFilter.build(session_id="s"), 0, render)


def test_a_new_file_longer_than_the_old_offset_is_read_from_its_start(tmp_path):
    """Rotation: the new newest file is read from 0, not from the old file's offset."""
    session = Session(tmp_path)
    session.append(["fill"] * 3)
    flt = EventFilter.build(session_id="s")
    head = LiveHead(tmp_path, flt, 20, render)
    head.refresh()
    session.rotate()
    session.append(["fill"] * 10)
    assert head.refresh() == expected(tmp_path, flt, 20)
    assert head.refresh()[0] == list(range(13, 0, -1))


def test_a_same_size_rewrite_in_place_is_noticed(tmp_path):
    """The newest file rewritten at the same size with other events: a rebuild, not stale
    rows (the bytes before the read position are checked on every refresh)."""
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"".join(line(n, "fill") for n in range(10, 13)))
    flt = EventFilter.build(session_id="s")
    head = LiveHead(tmp_path, flt, 5, render)
    assert head.refresh()[0] == [12, 11, 10]
    with open(path, "r+b") as fh:
        fh.write(b"".join(line(n, "fill") for n in range(20, 23)))
    assert head.refresh() == expected(tmp_path, flt, 5)
    assert head.refresh()[0] == [22, 21, 20]
