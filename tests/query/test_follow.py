"""SessionFollower: complete appended lines in file order, or a reset when what was read
no longer holds (replaced, shrunk, rewritten in place, compressed away)."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

from src.query.follow import Reset, SessionFollower, Unreadable
from src.query.lines import oversized_line


def lines(follower: SessionFollower) -> list[bytes | str]:
    """What one poll yields: lines, and "RESET" for a reset."""
    out: list[bytes | str] = []
    for item in follower.poll():
        if isinstance(item, Reset):
            out.append("RESET")
        elif isinstance(item, Unreadable):
            out.append("UNREADABLE")
        else:
            out.append(item[2])
    return out


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


def test_appended_lines_are_yielded_once(tmp_path: Path) -> None:
    f = SessionFollower(tmp_path, "s")
    assert lines(f) == []  # no file yet
    append(tmp_path / "s.jsonl", b"a\nb\n\n")
    assert lines(f) == [b"a", b"b"]
    assert lines(f) == []
    append(tmp_path / "s.jsonl", b"c\n")
    assert lines(f) == [b"c"]
    assert f.resets == 0


def test_a_torn_line_waits_for_its_newline(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    append(path, b"a\npart")
    f = SessionFollower(tmp_path, "s")
    assert lines(f) == [b"a"]
    append(path, b"ial")
    assert lines(f) == []
    append(path, b"\nnext\n")
    assert lines(f) == [b"partial", b"next"]


def test_truncated_and_regrown_to_the_same_size_is_a_reset(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    append(path, b"one\ntwo\n")
    f = SessionFollower(tmp_path, "s")
    assert lines(f) == [b"one", b"two"]
    ino = path.stat().st_ino
    with open(path, "r+b") as fh:  # same inode, same size, other bytes
        fh.truncate(0)
        fh.write(b"uno\ndos\n")
    assert path.stat().st_ino == ino and path.stat().st_size == 8
    assert lines(f) == ["RESET", b"uno", b"dos"]


def test_shrunk_is_a_reset(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    append(path, b"one\ntwo\n")
    f = SessionFollower(tmp_path, "s")
    lines(f)
    with open(path, "r+b") as fh:
        fh.truncate(4)
    assert lines(f) == ["RESET", b"one"]


def test_replaced_by_rename_is_a_reset(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    append(path, b"one\n")
    f = SessionFollower(tmp_path, "s")
    lines(f)
    tmp = tmp_path / "s.tmp"
    tmp.write_bytes(b"one\n")  # the same bytes, another file
    os.replace(tmp, path)
    assert lines(f) == ["RESET", b"one"]


def test_daily_rotation_goes_on_in_the_next_file(tmp_path: Path) -> None:
    day1, day2 = tmp_path / "2099-01-01", tmp_path / "2099-01-02"
    day1.mkdir()
    append(day1 / "s.jsonl", b"a\n")
    f = SessionFollower(tmp_path, "s")
    assert lines(f) == [b"a"]
    day2.mkdir()
    append(day2 / "s.jsonl", b"b\n")
    append(day1 / "s.jsonl", b"late\n")  # a writer finishing yesterday's file
    assert lines(f) == [b"late", b"b"]
    assert f.files == [day1 / "s.jsonl", day2 / "s.jsonl"]
    assert f.resets == 0


def test_compressed_by_retention_is_a_reset_then_read_from_the_gzip(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    append(path, b"a\nb\n")
    f = SessionFollower(tmp_path, "s")
    assert lines(f) == [b"a", b"b"]
    with open(path, "rb") as src, gzip.open(tmp_path / "s.jsonl.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    path.unlink()
    assert lines(f) == ["RESET", b"a", b"b"]
    assert lines(f) == []  # a compressed file never grows: read once


def test_a_damaged_gzip_yields_what_decoded_then_unreadable(tmp_path: Path) -> None:
    data = gzip.compress(b"a\n" + b"".join(b"%d\n" % (i * 7919) for i in range(50_000)))
    (tmp_path / "s.jsonl.gz").write_bytes(data[: len(data) // 2])
    f = SessionFollower(tmp_path, "s")
    out = lines(f)
    assert out[-1] == "UNREADABLE" and out[0] == b"a"
    assert lines(f) == []


def test_a_line_over_the_cap_comes_as_its_stand_in(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    f = SessionFollower(tmp_path, "s", limit=10)
    append(path, b"x" * 25)  # torn and already over the cap
    assert lines(f) == []
    append(path, b"x" * 5 + b"\nok\n")
    assert lines(f) == [oversized_line(30, 10), b"ok"]
    assert f.offset(path) == 34


def test_from_end_yields_only_what_is_appended_later(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    append(path, b"old\ntorn")
    f = SessionFollower(tmp_path, "s", from_end=True)
    assert lines(f) == []
    append(path, b"\nnew\n")
    assert lines(f) == [b"torn", b"new"]
    with open(path, "r+b") as fh:
        fh.truncate(0)
        fh.write(b"other\n")
    assert lines(f) == ["RESET"]  # from the end again
    append(path, b"more\n")
    assert lines(f) == [b"more"]


def test_resume_finishes_a_held_file_compressed_away_then_reads_its_successor(
    tmp_path: Path,
) -> None:
    """A live feed's follower: nothing repeated, nothing lost across retention."""
    path = tmp_path / "s.jsonl"
    append(path, b"before\n")
    f = SessionFollower(tmp_path, "s", from_end=True, resume=True, hold=True)
    assert lines(f) == []
    append(path, b"a\n")
    assert lines(f) == [b"a"]
    append(path, b"b\n")  # written, then retention compresses and removes the file
    with open(path, "rb") as src, gzip.open(tmp_path / "s.jsonl.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    path.unlink()
    append(path, b"c\n")  # the logger starts a new file under the name
    assert lines(f) == ["RESET", b"b", b"c"]
    with open(path, "r+b") as fh:  # truncated and written again: from its start
        fh.truncate(0)
        fh.write(b"d\n")
    assert lines(f) == ["RESET", b"d"]
    f.close()


def test_rescan_false_reads_known_files_without_listing(tmp_path: Path) -> None:
    day1, day2 = tmp_path / "2099-01-01", tmp_path / "2099-01-02"
    day1.mkdir()
    append(day1 / "s.jsonl", b"a\n")
    f = SessionFollower(tmp_path, "s")
    assert lines(f) == [b"a"]
    day2.mkdir()
    append(day2 / "s.jsonl", b"c\n")
    append(day1 / "s.jsonl", b"b\n")
    assert [i[2] for i in f.poll(rescan=False) if isinstance(i, tuple)] == [b"b"]
    assert lines(f) == [b"c"]


def test_a_gzip_rewritten_in_place_to_its_old_size_is_a_reset(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl.gz"
    one, two = gzip.compress(b"a\n", mtime=0), gzip.compress(b"b\n", mtime=0)
    assert len(one) == len(two)
    path.write_bytes(one)
    f = SessionFollower(tmp_path, "s")
    assert lines(f) == [b"a"]
    ino = path.stat().st_ino
    with open(path, "r+b") as fh:  # same inode, same size: only the content (and CRC) differ
        fh.write(two)
    assert path.stat().st_ino == ino
    assert lines(f) == ["RESET", b"b"]
