"""A run killed at any step leaves every event in one whole file; the next run completes it."""

from __future__ import annotations

import gzip
import os
import re

import pytest

from src.ops.retention import gzfiles, retire
from src.ops.retention.policy import RetentionPolicy
from src.ops.retention.run import run_retention


class Crash(BaseException):
    """Stands in for kill -9: not an Exception, so no cleanup handler runs."""


def crash_at(monkeypatch, stage: str) -> None:
    def checkpoint(at: str) -> None:
        if at == stage:
            raise Crash(at)

    monkeypatch.setattr(retire, "_checkpoint", checkpoint)


def leftovers(root):
    """Hidden originals and temp files of an interrupted run."""
    found = []
    for directory in [root, *(p for p in root.iterdir() if p.is_dir())]:
        found += [n for n in os.listdir(directory) if re.search(r"\.retention-(tmp|\d+-)", n)]
    return sorted(found)


def apply(root, **policy):
    return run_retention(root, RetentionPolicy(**policy), apply=True)


@pytest.mark.parametrize(
    ("stage", "visible_before_recovery"),
    [
        ("temp-written", True),  # original untouched, temp beside it
        ("original-hidden", False),  # original whole under its hidden name
        ("published", True),  # new .gz whole, original under its hidden name
        ("salvaged", True),  # only the hidden original's removal is left
    ],
)
def test_compression_crash_at_each_step_loses_nothing(
    root, make_session, seqs_of, monkeypatch, stage, visible_before_recovery
):
    """Old or new file whole at every crash point; the next --apply leaves exactly one copy."""
    make_session("s", gz=True, days=20, seqs=range(1, 4))  # merged into: must survive too
    make_session("s", days=10, seqs=range(4, 9))
    crash_at(monkeypatch, stage)
    with pytest.raises(Crash):
        apply(root)
    assert leftovers(root)
    expected = list(range(1, 9)) if visible_before_recovery else [1, 2, 3]
    assert seqs_of(root, "s") == expected
    monkeypatch.setattr(retire, "_checkpoint", lambda at: None)
    report = apply(root)
    assert leftovers(root) == []
    assert seqs_of(root, "s") == list(range(1, 9))
    assert sorted(os.listdir(root)) == [".retention-state.json", ".retention.lock", "s.jsonl.gz"]
    assert report.leftovers >= 1


@pytest.mark.parametrize("stage", ["delete-hidden", "salvaged"])
def test_deletion_crash_is_finished_by_the_next_run(root, make_session, monkeypatch, stage):
    """A deletion interrupted after the rename is completed, not undone or left half-way."""
    make_session("gone", days=40)
    crash_at(monkeypatch, stage)
    with pytest.raises(Crash):
        apply(root, keep_last_n=0)
    monkeypatch.setattr(retire, "_checkpoint", lambda at: None)
    apply(root, keep_last_n=0)
    assert leftovers(root) == []
    assert not (root / "gone.jsonl").exists()


def test_recovery_keeps_lines_appended_after_the_original_was_hidden(
    root, make_session, seqs_of, monkeypatch
):
    """A late line in the hidden file (a writer's in-flight write) ends up in the session."""
    make_session("s", days=10, seqs=range(1, 4))
    crash_at(monkeypatch, "published")
    with pytest.raises(Crash):
        apply(root)
    hidden = next(root.glob(".s.jsonl.retention-*-compress"))
    late = make_session("late", seqs=range(4, 5)).read_bytes().replace(b'"late"', b'"s"')
    os.unlink(root / "late.jsonl")
    with open(hidden, "ab") as fh:
        fh.write(late)
    monkeypatch.setattr(retire, "_checkpoint", lambda at: None)
    apply(root, compress_after_days=0)
    assert seqs_of(root, "s") == [1, 2, 3, 4]


def test_failed_compression_removes_its_temp_file_and_keeps_the_original(
    root, make_session, seqs_of, monkeypatch
):
    """An ordinary error (disk full while writing the .gz) cleans up after itself."""
    make_session("s", days=10)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(gzfiles.gzip, "GzipFile", full)
    report = apply(root)
    assert report.failed == 1
    assert leftovers(root) == []
    assert seqs_of(root, "s") == [1, 2, 3, 4, 5]


def test_temp_file_is_fsynced_before_the_original_is_moved(root, make_session, monkeypatch):
    """The new .gz is durable before the original leaves its name."""
    make_session("s", days=10)
    calls: list[str] = []
    real_fsync, real_rename = os.fsync, os.rename

    def fsync(fd):
        calls.append(f"fsync:{os.readlink(f'/proc/self/fd/{fd}').rsplit('/', 1)[-1]}")
        return real_fsync(fd)

    def rename(src, dst, **kw):
        calls.append(f"rename:{src}->{dst}")
        return real_rename(src, dst, **kw)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    apply(root)
    temp_sync = calls.index("fsync:.s.jsonl.gz.retention-tmp")
    hide = next(i for i, c in enumerate(calls) if c.startswith("rename:s.jsonl->"))
    publish = calls.index("rename:.s.jsonl.gz.retention-tmp->s.jsonl.gz")
    assert temp_sync < hide < publish
    with gzip.open(root / "s.jsonl.gz") as fh:
        assert len(fh.read().splitlines()) == 5
