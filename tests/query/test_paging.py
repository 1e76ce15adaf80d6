"""Paging newest first with cursors: complete, non-overlapping, safe against forged cursors."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from src.query.filters import EventFilter
from src.query.paging import page_back


def ev(n: int, kind: str = "fill") -> str:
    return (
        json.dumps(
            {
                "ts": f"2025-01-01T00:{n // 60:02d}:{n % 60:02d}Z",
                "session_id": "s",
                "symbol": "X",
                "mode": "paper",
                "kind": kind,
                "payload": {"n": n},
            }
        )
        + "\n"
    )


def test_pages_cover_every_event_once_across_gzip_and_plain_files(tmp_path):
    """Walking all pages yields every event exactly once, newest first, across two files."""
    with gzip.open(tmp_path / "s.jsonl.gz", "wt") as fh:
        fh.write("".join(ev(n) for n in range(0, 25)))
    (tmp_path / "2099-01-01").mkdir()
    (tmp_path / "2099-01-01" / "s.jsonl").write_text("".join(ev(n) for n in range(25, 60)))
    flt = EventFilter.build(session_id="s")
    seen, cursor = [], None
    while True:
        page = page_back(tmp_path, flt, 7, cursor)
        seen += [r.payload["n"] for r in page.records]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == list(range(59, -1, -1))


def test_filtered_pages(tmp_path):
    """The kind filter applies before paging."""
    (tmp_path / "s.jsonl").write_text(
        "".join(ev(n, "fill" if n % 3 == 0 else "gate") for n in range(30))
    )
    flt = EventFilter.build(session_id="s", kind="fill")
    first = page_back(tmp_path, flt, 4)
    second = page_back(tmp_path, flt, 4, first.next_cursor)
    assert [r.payload["n"] for r in first.records + second.records] == [
        27,
        24,
        21,
        18,
        15,
        12,
        9,
        6,
    ]


@pytest.mark.parametrize(
    "forged",
    [
        "garbage!!",
        base64.urlsafe_b64encode(b"../../etc/passwd@0").decode(),
        base64.urlsafe_b64encode(b"other.jsonl@10").decode(),
    ],
)
def test_forged_cursors_are_refused(tmp_path, forged):
    """A cursor that is not a position in this session's own files is a ValueError."""
    (tmp_path / "s.jsonl").write_text(ev(1))
    (tmp_path / "other.jsonl").write_text(ev(1))
    with pytest.raises(ValueError, match="invalid cursor"):
        page_back(tmp_path, EventFilter.build(session_id="s"), 5, forged)
