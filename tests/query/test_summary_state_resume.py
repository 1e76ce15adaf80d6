"""Saved summary state between readers of both kinds: what one saves, the other resumes
exactly (one pass's answer), whatever was written or saved while it read.

Which lines a summary read is seen through its progress callback (``read``); readers are
real ``summarize`` calls and ``IncrementalSummary`` objects over real files.
"""

from __future__ import annotations

import gzip
import os
import sys
import time

import msgspec
import orjson
import pytest

from src.query import incremental, saved_scan, summary_state
from src.query.analytics.summary import SummaryBuilder
from src.query.analytics.timestamps import DEFAULT_GAP_THRESHOLD_S
from src.query.incremental import IncrementalSummary
from src.query.records import ParseStats
from src.query.summary_state import StateStore, mark_holds, mark_of, with_torn
from tests.query.test_summary_state import AS_OF, lines, one_pass, read, state_files


def _days(base, *bodies: bytes, gz: int = 0):
    """Session ``s`` as one file per day (the first ``gz`` of them compressed)."""
    paths = []
    for n, body in enumerate(bodies):
        day = base / f"2026-11-{20 + n:02d}"
        day.mkdir()
        path = day / "s.jsonl"
        if n < gz:
            path = day / "s.jsonl.gz"
            path.write_bytes(gzip.compress(body))
        else:
            path.write_bytes(body)
        paths.append(path)
    return paths


def test_lines_appended_to_an_older_file_after_the_read_are_not_taken_for_a_torn_one(
    tmp_path, monkeypatch
):
    """A writer appends complete lines to yesterday's file between an incremental
    reader's poll and its save: the state records the file as read (500 lines), so the
    CLI does not answer 500 lines plus a phantom torn one, but reads everything again."""
    body = lines(1000)
    cut = len(b"".join(body.splitlines(keepends=True)[:500]))
    late = b"".join(lines(1200).splitlines(keepends=True)[1000:1200])
    older, _ = _days(tmp_path, body[:cut], body[cut:])
    real = IncrementalSummary._save

    def save_after_a_late_write(self, *args):
        with older.open("ab") as fh:  # lands after the read, before the save
            fh.write(late)
        return real(self, *args)

    monkeypatch.setattr(IncrementalSummary, "_save", save_after_a_late_write)
    IncrementalSummary(tmp_path, "s", max_age_s=0).refresh(as_of=AS_OF)
    monkeypatch.setattr(IncrementalSummary, "_save", real)
    got, _ = read(tmp_path)
    assert got == one_pass(tmp_path)
    assert got.event_count == 1200 and got.parse.torn_lines == 0


def test_an_older_file_with_complete_lines_past_its_mark_does_not_hold(tmp_path):
    """Whoever saved a mark sized past the point read to: more than a torn line follows
    that point in an older file, so the state is not used (a torn line alone is)."""
    path = tmp_path / "s.jsonl"
    body = lines(20)
    first = len(body.splitlines(keepends=True)[0])
    path.write_bytes(body + b'{"torn')
    with path.open("rb") as fh:
        sized_now = mark_of(fh.fileno(), "s.jsonl", offset=first, gz=False)
        torn_only = mark_of(fh.fileno(), "s.jsonl", offset=len(body), gz=False)
    assert not mark_holds(path, sized_now, last=False)
    assert mark_holds(path, sized_now, last=True)  # the newest file: read on from there
    assert mark_holds(path, torn_only, last=False)


def test_a_state_saved_between_header_and_blob_is_still_read(tmp_path):
    """Another process saves a newer state after a reader read the header: the reader
    still gets the builder it checked the files against, not a full rescan."""
    path = tmp_path / "s.jsonl"
    path.write_bytes(lines(1600))
    read(tmp_path)
    store = StateStore(tmp_path, "s", SummaryBuilder(gap_threshold_s=DEFAULT_GAP_THRESHOLD_S))
    saved = store.load()
    assert saved is not None
    with path.open("ab") as fh:
        fh.write(lines(400, 1600))
    _, read_now = read(tmp_path)  # another reader saves meanwhile
    assert read_now == 400
    state = saved.state()
    assert state is not None and state[1].valid_events == 1600
    assert saved.state() is None  # read once: the file is closed


def test_a_state_is_read_through_the_descriptor_its_header_came_from(tmp_path):
    """An incremental reader that resumed an unchanged session decodes the builder only
    once lines come; a state saved by another process meanwhile does not make it rebuild."""
    path = tmp_path / "s.jsonl"
    path.write_bytes(lines(1600))
    read(tmp_path)
    inc = IncrementalSummary(tmp_path, "s", max_age_s=0)
    inc.refresh(as_of=AS_OF)
    assert inc.resumed
    with path.open("ab") as fh:
        fh.write(lines(400, 1600))
    read(tmp_path)  # saves a newer state under the same name
    follower = inc._follower
    got = inc.refresh(as_of=AS_OF)
    assert got == one_pass(tmp_path)
    assert inc._follower is follower  # went on from the saved builder: no rebuild


def test_incremental_readers_count_torn_lines_of_older_and_compressed_files(tmp_path):
    """As one pass does; only the newest plain file's last line, still being written,
    waits."""
    body = lines(2000).splitlines(keepends=True)
    _days(
        tmp_path,
        b"".join(body[:500]) + b'{"torn-gz',
        b"".join(body[500:1000]) + b'{"torn',
        b"".join(body[1000:1500]) + body[1500][:30],
        gz=1,
    )
    one = one_pass(tmp_path)
    assert one.parse.torn_lines == 3
    live = with_torn(one, -1)
    fresh = IncrementalSummary(tmp_path, "s", max_age_s=0, persist=False)
    assert fresh.refresh(as_of=AS_OF) == live
    read(tmp_path)  # the CLI saves its state
    resumed = IncrementalSummary(tmp_path, "s", max_age_s=0)
    assert resumed.refresh(as_of=AS_OF) == live and resumed.resumed


def test_the_cli_resumes_an_incremental_readers_state_with_compressed_files(tmp_path):
    """Marks of compressed files say whether their last line is torn: the CLI resumes
    such a state instead of discarding it."""
    body = lines(1000).splitlines(keepends=True)
    _days(tmp_path, b"".join(body[:500]) + b'{"torn-gz', b"".join(body[500:]), gz=1)
    IncrementalSummary(tmp_path, "s", max_age_s=0).refresh(as_of=AS_OF)
    got, read_now = read(tmp_path)
    assert read_now == 0 and got == one_pass(tmp_path) and got.parse.torn_lines == 1


def _append_and_date(path, data: bytes, mtime: float) -> None:
    with path.open("ab") as fh:
        fh.write(data)
    os.utime(path, (mtime, mtime))


def test_a_small_tail_is_saved_once_the_session_is_idle(tmp_path):
    """Far under 1/16 of the state appended, then nothing written for a while: the first
    reader pays for the tail and saves it; every later one reads nothing."""
    path = tmp_path / "s.jsonl"
    path.write_bytes(lines(2000))
    read(tmp_path)
    _append_and_date(path, lines(10, 2000), time.time() - 10 * saved_scan.IDLE_S)
    first, read_first = read(tmp_path)
    again, read_again = read(tmp_path)
    assert (read_first, read_again) == (10, 0)
    assert first == again == one_pass(tmp_path)


def test_a_small_tail_of_a_session_being_written_is_not_saved(tmp_path):
    """A session still being written (its newest file written just now) keeps the state
    its last big enough read saved: readers read the tail again rather than save."""
    path = tmp_path / "s.jsonl"
    path.write_bytes(lines(2000))
    read(tmp_path)
    _append_and_date(path, lines(10, 2000), time.time() + 3600)  # "now", on any clock
    assert [read(tmp_path)[1] for _ in range(2)] == [10, 10]
    _append_and_date(path, lines(200, 2010), time.time() + 3600)  # over 1/16: saved
    assert [read(tmp_path)[1] for _ in range(2)] == [210, 0]


@pytest.mark.parametrize("library", [msgspec, orjson])
def test_a_state_saved_under_other_library_versions_is_rebuilt(tmp_path, monkeypatch, library):
    """msgspec and orjson decide how lines parse: a state saved with other versions of
    them (or of Python) is ignored and rebuilt."""
    assert f"{sys.version_info[0]}.{sys.version_info[1]}" in summary_state.libraries()
    (tmp_path / "s.jsonl").write_bytes(lines(300))
    read(tmp_path)
    assert read(tmp_path)[1] == 0
    monkeypatch.setattr(library, "__version__", library.__version__ + ".other")
    got, read_now = read(tmp_path)
    assert read_now == 300 and got == one_pass(tmp_path)
    assert read(tmp_path)[1] == 0  # saved anew, for these versions


def _encoded_states(monkeypatch) -> list[object]:
    """The states encoded to be saved from now on (not the empty one naming a store)."""
    encoded = []
    real = summary_state.encode

    def encode(obj):
        if isinstance(obj[1], ParseStats) and obj[1].total_lines:
            encoded.append(obj)
        return real(obj)

    monkeypatch.setattr(summary_state, "encode", encode)
    return encoded


def test_a_state_over_the_cap_is_not_encoded_again_as_the_session_grows(tmp_path, monkeypatch):
    """The first reader finds the state too big and leaves a note (a header alone, which
    no reader resumes); later readers of the grown session do not encode it again."""
    encoded = _encoded_states(monkeypatch)
    monkeypatch.setattr(summary_state, "MAX_STATE_BYTES", 1000)
    path = tmp_path / "s.jsonl"
    path.write_bytes(lines(300))
    assert read(tmp_path)[1] == 300 and len(encoded) == 1
    store = StateStore(tmp_path, "s", SummaryBuilder(gap_threshold_s=DEFAULT_GAP_THRESHOLD_S))
    assert store.load() is None
    with path.open("ab") as fh:
        fh.write(lines(10, 300))
    got, read_now = read(tmp_path)
    assert read_now == 310 and got == one_pass(tmp_path)
    assert len(encoded) == 1  # not encoded again
    monkeypatch.setattr(summary_state, "MAX_STATE_BYTES", 512 << 20)  # a higher cap
    assert read(tmp_path)[1] == 310 and len(encoded) == 2
    assert read(tmp_path)[1] == 0  # saved


def test_a_session_growing_past_the_cap_keeps_its_state_and_stops_encoding(tmp_path, monkeypatch):
    """The state saved before the session outgrew the cap stays (readers resume it); a
    state estimated over the cap from it is not encoded."""
    path = tmp_path / "s.jsonl"
    path.write_bytes(lines(300))
    read(tmp_path)
    store = StateStore(tmp_path, "s", SummaryBuilder(gap_threshold_s=DEFAULT_GAP_THRESHOLD_S))
    saved = store.load()
    assert saved is not None
    saved.close()
    size = (tmp_path / ".summary" / store.name).stat().st_size
    monkeypatch.setattr(summary_state, "MAX_STATE_BYTES", 3 * size)
    encoded = _encoded_states(monkeypatch)
    with path.open("ab") as fh:
        fh.write(lines(3000, 300))
    for _ in range(2):
        got, read_now = read(tmp_path)
        assert read_now == 3000 and got == one_pass(tmp_path)  # resumed: the tail only
    assert encoded == []


def test_a_compressed_file_replaced_while_read_is_not_saved_as_read(tmp_path, monkeypatch):
    """The mark of a compressed file is the file that was read: one replaced meanwhile
    (another inode under the name) leaves no state that would answer for it."""
    _days(tmp_path, lines(300), gz=1)
    real = saved_scan.open_segment

    def open_then_replace(path):
        fh = real(path)
        other = path.with_name("other.gz")
        other.write_bytes(gzip.compress(lines(50)))
        other.replace(path)
        return fh

    monkeypatch.setattr(saved_scan, "open_segment", open_then_replace)
    first, _ = read(tmp_path, workers=1)
    monkeypatch.setattr(saved_scan, "open_segment", real)
    assert first.event_count == 300  # what was read
    assert state_files(tmp_path) == []
    again, _ = read(tmp_path)
    assert again == one_pass(tmp_path) and again.event_count == 50


def test_an_incremental_reader_saves_a_tail_once_the_wait_is_over(tmp_path, monkeypatch):
    """A dashboard that resumed a state and read a few new lines saves them once
    SAVE_EVERY_S has passed, even if nothing more comes (no recomputed summary). (The
    CLI reads the tail without saving it: the file looks still written.)"""
    path = tmp_path / "s.jsonl"
    path.write_bytes(lines(400))
    read(tmp_path)
    monkeypatch.setattr(incremental, "SAVE_EVERY_S", 3600.0)
    inc = IncrementalSummary(tmp_path, "s", max_age_s=0)
    inc.refresh(as_of=AS_OF)
    _append_and_date(path, lines(10, 400), time.time() + 3600)  # being written: the CLI
    inc.refresh(as_of=AS_OF)  # read, not saved yet: the last save is too recent
    assert read(tmp_path)[1] == 10
    monkeypatch.setattr(incremental, "SAVE_EVERY_S", 0.0)  # the wait is over
    inc.refresh(as_of=AS_OF)
    got, read_now = read(tmp_path)
    assert read_now == 0 and got == one_pass(tmp_path)


def test_a_file_replaced_after_the_state_was_checked_is_read_whole(tmp_path, monkeypatch):
    """The newest file is replaced under its name between the state's check and the read
    going on from its mark (the retention hand-off renames a file away and the logger
    starts a new one): the reader goes by the descriptor it reads through, sees another
    file and reads it all, instead of reading the new file from the old offset and saving
    that as a valid state (3,010 events then, for good)."""
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"".join(lines(2000).splitlines(keepends=True)[:1000]))
    assert read(tmp_path)[0].event_count == 1000
    real = StateStore.holds

    def holds_then_replaced(self, saved, paths):
        ok = real(self, saved, paths)
        other = tmp_path / "s.new"
        other.write_bytes(lines(3000, start=5000))
        os.replace(other, path)
        return ok

    monkeypatch.setattr(StateStore, "holds", holds_then_replaced)
    got, n = read(tmp_path)
    monkeypatch.setattr(StateStore, "holds", real)
    # (its size_bytes is the listing's, taken before the replace)
    assert n == 3000 and got.event_count == 3000 and got.parse.invalid_lines == 0
    again, n = read(tmp_path)
    assert again == one_pass(tmp_path) and again.event_count == 3000


@pytest.mark.parametrize("new_events", [3000, 30])
def test_a_retention_hand_off_after_the_state_was_checked_is_read_as_one_pass(
    tmp_path, monkeypatch, new_events
):
    """Between the state's check and the read, retention compresses the session's file
    away (``s.jsonl.gz``) and the logger starts a new ``s.jsonl``: the reader lists the
    session again and reads it all, whether the new file is longer than the state's offset
    or not (a short one used to be taken for the unchanged file: the saved summary alone)."""
    path = tmp_path / "s.jsonl"
    old = b"".join(lines(2000).splitlines(keepends=True)[:1000])
    path.write_bytes(old)
    assert read(tmp_path)[0].event_count == 1000
    real = StateStore.holds

    def holds_then_handed_off(self, saved, paths):
        ok = real(self, saved, paths)
        (tmp_path / "s.jsonl.gz").write_bytes(gzip.compress(old))
        other = tmp_path / "s.new"
        other.write_bytes(lines(new_events, start=5000))
        os.replace(other, path)
        return ok

    monkeypatch.setattr(StateStore, "holds", holds_then_handed_off)
    got, _ = read(tmp_path)
    monkeypatch.setattr(StateStore, "holds", real)
    assert got.event_count == 1000 + new_events
    assert got == one_pass(tmp_path)
