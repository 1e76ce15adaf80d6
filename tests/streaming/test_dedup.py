"""SeenEvents and seed_from_archive: bounded memory, and remembering across a restart."""

from __future__ import annotations

import os

import pytest

from src.execution.serialization import encode_event_line
from src.streaming.dedup import SeenEvents, seed_from_archive


def test_remembers_at_least_the_latest_half_and_at_most_capacity():
    """After many adds the newest capacity//2 ids are known and memory stays bounded."""
    seen = SeenEvents(capacity=100)
    for n in range(10_000):
        seen.add(f"e{n}")
        assert len(seen) <= 100
    assert all(f"e{n}" in seen for n in range(10_000 - 50, 10_000))
    assert "e0" not in seen
    with pytest.raises(ValueError, match="invalid capacity"):
        SeenEvents(1)


def test_seed_reads_whole_lines_from_the_newest_files_tails(tmp_path, make_event):
    """Ids in the tail window are remembered; a line cut by the window and torn lines are not."""
    old, new = tmp_path / "old.jsonl", tmp_path / "day" / "new.jsonl"
    new.parent.mkdir()
    old_events = [make_event(seq=n, event_id=f"evt-old-{n:04d}") for n in range(100)]
    new_events = [make_event(seq=n, event_id=f"evt-new-{n:04d}") for n in range(100)]
    old.write_bytes(b"".join(encode_event_line(e) for e in old_events))
    new.write_bytes(b"".join(encode_event_line(e) for e in new_events) + b'{"torn": ')
    os.utime(old, (1_000, 1_000))  # older than the other file
    line_len = len(encode_event_line(new_events[-1]))  # every line has this length

    seen = SeenEvents(capacity=100_000)
    # The window holds the torn fragment, ten whole lines and the cut end of an eleventh.
    assert seed_from_archive(seen, tmp_path, tail_bytes=10 * line_len + 20) >= 10
    assert all(e.event_id in seen for e in new_events[-10:])
    assert new_events[-11].event_id not in seen
    assert old_events[-1].event_id in seen and old_events[0].event_id not in seen

    budget = SeenEvents(capacity=100)  # 50 ids: all from the newest file
    assert seed_from_archive(budget, tmp_path, tail_bytes=1 << 20) == 50
    assert all(e.event_id in budget for e in new_events[-50:])
    assert not any(e.event_id in budget for e in old_events)


def test_seed_of_a_missing_archive_is_empty(tmp_path):
    """A collector's first start, with no archive yet, remembers nothing and does not fail."""
    assert seed_from_archive(SeenEvents(), tmp_path / "nothing", 4096) == 0
