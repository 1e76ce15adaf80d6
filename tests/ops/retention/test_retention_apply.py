"""Applying retention: what it does to files, and everything it must never do."""

from __future__ import annotations

import gzip
import io
import json
import os
import secrets
import subprocess
import time
from datetime import UTC, datetime

import pytest

from src.cli.view_telemetry import main as viewer_main
from src.execution.events import ExecutionEvent
from src.execution.serialization import encode_event_line
from src.execution.telemetry import JsonlExecutionLogger
from src.live.execution_bridge import get_execution_summary
from src.ops.retention import retire, run
from src.ops.retention.gzfiles import write_temp_gz
from src.ops.retention.policy import RetentionPolicy
from src.ops.retention.run import RetentionBusy, run_retention
from src.ops.retention.state import STATE_FILE, read_state
from src.query.files import list_sessions

AGGRESSIVE = {"keep_last_n": 0, "max_age_days": 1, "compress_after_days": 0}


def apply(root, **policy):
    return run_retention(root, RetentionPolicy(**policy), apply=True)


def names(root):
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and not any(part[0] == "." for part in p.relative_to(root).parts)
    )


def test_apply_deletes_and_compresses_and_readers_still_see_every_event(
    root, make_session, seqs_of
):
    """Compressed sessions stay queryable by the bridge and the viewer, with the same events."""
    make_session("old", days=40)
    make_session("middle", days=10, seqs=range(1, 50))
    before = get_execution_summary("middle", base_path=root)
    report = apply(root, keep_last_n=0)
    assert [o.status for o in report.outcomes] == ["done", "done"]
    assert names(root) == ["middle.jsonl.gz"]
    assert seqs_of(root, "middle") == list(range(1, 50))
    after = get_execution_summary("middle", base_path=root)
    assert after["event_count"] == before["event_count"] == 49
    assert after["kind_counts"] == before["kind_counts"]
    out = io.StringIO()
    assert viewer_main(["--path", str(root), "--session", "middle", "--summary"], stdout=out) == 0
    assert "Total events: 49" in out.getvalue()


def test_compression_preserves_mtime(root, make_session):
    """The .gz carries the original's mtime, so its age is still right for the next run."""
    path = make_session("s", days=10)
    mtime_ns = path.stat().st_mtime_ns
    apply(root)
    assert (root / "s.jsonl.gz").stat().st_mtime_ns == mtime_ns


def test_size_after_is_measured_on_disk(root, make_session):
    """The reported size after an apply is the real total of the session files left."""
    for n in range(5):
        make_session(f"s{n}", days=8 + 10 * n, seqs=range(1, 200))
    (root / "notes.jsonl").write_text("not telemetry\n")
    report = apply(root, keep_last_n=1)
    on_disk = sum(
        p.stat().st_size for s in list_sessions(root) for p in s.files if p.name != "notes.jsonl"
    )
    assert report.size_after == on_disk
    assert report.size_after < report.plan.size_before


def test_existing_gz_and_plain_file_are_merged_never_overwritten(root, make_session, seqs_of):
    """A session with both .jsonl.gz and .jsonl ends with one .gz holding both, in order."""
    make_session("s", gz=True, days=20, seqs=range(1, 6))
    make_session("s", days=10, seqs=range(6, 11))
    report = apply(root)
    assert report.outcomes[0].detail == "merged into s.jsonl.gz"
    assert names(root) == ["s.jsonl.gz"]
    assert seqs_of(root, "s") == list(range(1, 11))
    zcat = subprocess.run(["zcat", str(root / "s.jsonl.gz")], capture_output=True, check=True)
    assert [json.loads(x)["seq"] for x in zcat.stdout.splitlines()] == list(range(1, 11))


def test_damaged_gz_is_not_merged_into(root, make_session, seqs_of):
    """If the existing .gz is corrupt, the plain file stays as it is (and says why)."""
    gz = make_session("s", gz=True, days=20)
    gz.write_bytes(gz.read_bytes()[:-12])  # truncated: trailer gone
    make_session("s", days=10, seqs=range(6, 11))
    report = apply(root)
    assert report.outcomes[0].status == "skipped"
    assert "damaged" in report.outcomes[0].detail
    assert (root / "s.jsonl").exists()


def test_daily_layout_files_are_compressed_in_place(root, make_session, seqs_of):
    """Closed day files become YYYY-MM-DD/<session>.jsonl.gz; the session reads in order."""
    make_session("s", day="2026-10-01", days=50, seqs=range(1, 4))
    make_session("s", day="2026-11-01", days=20, seqs=range(4, 7))
    apply(root, keep_last_n=5)
    assert names(root) == ["2026-10-01/s.jsonl.gz", "2026-11-01/s.jsonl.gz"]
    assert seqs_of(root, "s") == list(range(1, 7))


def test_symlinks_are_never_followed_out_of_the_root(tmp_path, root, make_session, age):
    """Symlinked session files and day directories pointing outside are neither read nor touched."""
    outside = tmp_path / "elsewhere"
    (outside / "day").mkdir(parents=True)
    victim = outside / "victim.jsonl"
    victim.write_bytes(make_session("victim", days=40).read_bytes())
    os.unlink(root / "victim.jsonl")
    (outside / "day" / "v2.jsonl").write_bytes(victim.read_bytes().replace(b"victim", b"v2"))
    for p in (victim, outside / "day" / "v2.jsonl"):
        age(p, 40)
    os.symlink(victim, root / "victim.jsonl")
    os.symlink(outside / "day", root / "2020-01-01")
    before = {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in outside.rglob("*.jsonl")}
    report = apply(root, **AGGRESSIVE, max_total_mb=0)
    assert report.plan.actions == []
    assert {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in outside.rglob("*.jsonl")} == before


def test_foreign_files_are_untouched_by_apply(root, make_session, age, tree):
    """Another program's .jsonl, however old, keeps its bytes and mtime."""
    (root / "app.jsonl").write_text('{"event": "login"}\n' * 100)
    (root / "x.jsonl.gz").write_bytes(gzip.compress(b'{"not": "ours"}\n'))
    for name in ("app.jsonl", "x.jsonl.gz"):
        age(root / name, 400)
    make_session("mine", days=400)
    before = {k: v for k, v in tree(root).items() if k in ("app.jsonl", "x.jsonl.gz")}
    apply(root, **AGGRESSIVE, max_total_mb=0)
    assert {k: v for k, v in tree(root).items() if k in ("app.jsonl", "x.jsonl.gz")} == before
    assert not (root / "mine.jsonl").exists()


def test_live_files_survive_aggressive_apply(root, make_session, make_event, age, seqs_of):
    """Today's daily file and a file a running logger holds stay, even when everything goes."""
    today = time.strftime("%Y-%m-%d", time.gmtime())
    make_session("rot", day=today, days=40)
    held = make_session("held", days=40)
    with JsonlExecutionLogger(root) as logger:
        logger.emit(make_event(session_id="held", seq=6))
        age(held, 40)
        report = apply(root, **AGGRESSIVE, max_total_mb=1)
        logger.emit(make_event(session_id="held", seq=7))
    assert report.outcomes == []
    assert (root / today / "rot.jsonl").exists()
    assert seqs_of(root, "held") == [1, 2, 3, 4, 5, 6, 7]


def test_file_written_between_plan_and_apply_is_skipped(root, make_session, seqs_of):
    """Re-checked just before acting: a file that changed since planning is left alone."""
    path = make_session("s", days=40)

    def append_after_plan(_report) -> None:
        with open(path, "ab") as fh:
            fh.write(encode_event_line(_event("s", 6)))
        t = time.time() - 40 * 86_400
        os.utime(path, (t, t))  # still old: only the size and mtime check can notice

    report = run_retention(
        root, RetentionPolicy(keep_last_n=0), apply=True, on_plan=append_after_plan
    )
    assert report.outcomes[0].status == "skipped"
    assert "since planning" in report.outcomes[0].detail
    assert seqs_of(root, "s") == [1, 2, 3, 4, 5, 6]


def _event(session_id: str, seq: int) -> ExecutionEvent:
    return ExecutionEvent(
        ts=datetime.now(UTC),
        session_id=session_id,
        symbol="X",
        mode="paper",
        kind="fill",
        payload={},
        seq=seq,
    )


def test_state_file_records_successful_runs_only_when_applied(root, make_session, tree):
    """Dry runs write nothing; --apply writes the state atomically; failures keep last success."""
    make_session("s", days=10)
    run_retention(root, RetentionPolicy(), apply=False)
    assert read_state(root) is None
    t0 = time.time()
    apply(root)
    state = read_state(root)
    assert state["last_run_ok"] is True and state["last_success_at"] >= t0
    assert state["last_run"]["compressed"] == 1
    assert not [n for n in os.listdir(root) if n.endswith(".tmp")]
    assert json.loads((root / STATE_FILE).read_text())["version"] == 1


def test_a_failed_action_is_reported_and_does_not_count_as_success(root, make_session, monkeypatch):
    """An I/O error on one file fails that action only; the state keeps the last success."""
    make_session("a", days=10)
    apply(root)
    first_success = read_state(root)["last_success_at"]
    make_session("b", days=10)

    def broken(dirs, f):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(run, "compress_file", broken)
    report = apply(root)
    assert report.failed == 1
    assert "No space left" in report.outcomes[0].detail
    state = read_state(root)
    assert state["last_run_ok"] is False
    assert state["last_success_at"] == first_success
    assert (root / "b.jsonl").exists()


def test_empty_past_day_directories_are_removed(root, make_session):
    """A day directory emptied by deletions goes too; today's is kept."""
    make_session("s", day="2026-01-01", days=300)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    (root / today).mkdir()
    report = apply(root, keep_last_n=0)
    assert not (root / "2026-01-01").exists()
    assert (root / today).is_dir()
    assert report.removed_dirs == 1


def test_second_size_pass_when_compression_saves_less_than_estimated(
    root, make_session, monkeypatch
):
    """If the cap is still exceeded after compressing, more old sessions go, and it is said."""
    for n in range(4):
        path = root / f"s{n}.jsonl"
        # Random hex compresses only to about half: far worse than the forced estimate.
        lines = b"".join(
            encode_event_line(
                ExecutionEvent(
                    ts=datetime.now(UTC),
                    session_id=f"s{n}",
                    symbol="X",
                    mode="paper",
                    kind="fill",
                    payload={"noise": secrets.token_hex(1000)},
                    seq=i,
                )
            )
            for i in range(400)
        )
        path.write_bytes(lines)
        t = time.time() - (20 - n) * 86_400
        os.utime(path, (t, t))
    monkeypatch.setattr(run, "estimate_ratio", lambda samples: 0.001)
    report = apply(root, keep_last_n=1, max_total_mb=1)
    assert any(o.extra and o.action.kind == "delete" for o in report.outcomes)
    assert any("compression saved less than estimated" in n for n in report.notes)
    assert report.size_after <= 2**20
    assert (root / "s3.jsonl.gz").exists()  # the protected newest session survives


def test_old_writer_heartbeats_are_pruned(root):
    """Heartbeats not updated for max-age days go; recent ones stay."""
    writers = root / ".writers"
    writers.mkdir()
    for name, days in (("old-1-1.json", 40), ("new-2-2.json", 1)):
        (writers / name).write_text("{}")
        t = time.time() - days * 86_400
        os.utime(writers / name, (t, t))
    apply(root)
    assert sorted(os.listdir(writers)) == ["new-2-2.json"]


def test_two_runs_never_work_on_one_root_at_once(root, make_session, monkeypatch):
    """A second --apply while one holds the root's lock refuses to start."""
    make_session("s", days=10)
    fd = run._take_lock(root)
    try:
        with pytest.raises(RetentionBusy, match="another retention run"):
            apply(root)
    finally:
        os.close(fd)
    assert apply(root).outcomes[0].status == "done"


def test_operations_refuse_day_directory_names_that_escape(root):
    """The directory-descriptor helper never opens '..' or a nested path."""
    with retire.RootDirs(root) as dirs, pytest.raises(ValueError):
        dirs.fd("..")


def test_file_appended_to_during_compression_is_kept_uncompressed(
    root, make_session, seqs_of, monkeypatch
):
    """A writer that appends while the .gz is being written makes retention give up on it."""
    path = make_session("s", days=10)

    def write_then_append(*args, **kwargs):
        size = write_temp_gz(*args, **kwargs)
        with open(path, "ab") as fh:  # a writer that could not get its lock appends now
            fh.write(encode_event_line(_event("s", 6)))
        return size

    monkeypatch.setattr(retire, "write_temp_gz", write_then_append)
    report = apply(root)
    assert (report.outcomes[0].status, report.outcomes[0].detail) == (
        "skipped",
        "live: appended to during compression",
    )
    assert sorted(os.listdir(root)) == [".retention-state.json", ".retention.lock", "s.jsonl"]
    assert seqs_of(root, "s") == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("stage", ["original-hidden", "published", "delete-hidden"])
def test_line_written_to_a_retired_file_is_salvaged(
    root, make_session, seqs_of, monkeypatch, stage
):
    """An in-flight line that lands in the file after it was moved aside is kept."""
    make_session("s", days=40 if stage == "delete-hidden" else 10)

    def late_write(at: str) -> None:
        if at == stage:
            hidden = next(root.glob(".s.jsonl.retention-*"))
            with open(hidden, "ab") as fh:
                fh.write(encode_event_line(_event("s", 99)))

    monkeypatch.setattr(retire, "_checkpoint", late_write)
    report = apply(root, keep_last_n=0)
    assert report.outcomes[0].status == "done"
    assert any("appended to s.jsonl after it was retired" in n for n in report.notes)
    expected = [99] if stage == "delete-hidden" else [1, 2, 3, 4, 5, 99]
    assert seqs_of(root, "s") == expected
