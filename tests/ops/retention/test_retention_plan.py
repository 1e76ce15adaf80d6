"""The retention plan: rules, protection, ordering, and that a dry run changes nothing."""

from __future__ import annotations

import fcntl
import os
import time

import pytest

from src.execution.config import TelemetryConfig
from src.execution.telemetry import JsonlExecutionLogger
from src.ops.retention.policy import RetentionPolicy
from src.ops.retention.run import run_retention


def plan_of(root, **policy):
    return run_retention(root, RetentionPolicy(**policy), apply=False).plan


def actions(plan):
    return [(a.kind, a.rel) for a in plan.actions]


def test_old_files_are_deleted_and_middle_aged_ones_compressed(root, make_session):
    """Older than max age: delete; older than compress-after: compress; recent: untouched."""
    make_session("old", days=40)
    make_session("middle", days=10)
    make_session("fresh", days=1)
    plan = plan_of(root, keep_last_n=0)
    assert actions(plan) == [("delete", "old.jsonl"), ("compress", "middle.jsonl")]
    assert "older than 30 days (40 days)" in plan.actions[0].reason
    assert "older than 7 days (10 days)" in plan.actions[1].reason


def test_keep_last_n_protects_the_newest_sessions_however_old(root, make_session):
    """The N most recently written sessions are never deleted, and the plan says why."""
    for n, days in enumerate([50, 45, 40]):
        make_session(f"s{n}", days=days)
    plan = plan_of(root, keep_last_n=2, compress_after_days=0)
    assert actions(plan) == [("delete", "s0.jsonl")]
    kept = {k.rel: k.reason for k in plan.skipped}
    assert set(kept) == {"s1.jsonl", "s2.jsonl"}
    assert "--keep-last-n" in kept["s1.jsonl"]


def test_protected_sessions_are_still_compressed(root, make_session):
    """Compression loses nothing, so keep-last-n does not stop it."""
    make_session("only", days=10)
    assert actions(plan_of(root, keep_last_n=5)) == [("compress", "only.jsonl")]


def test_plan_is_oldest_first_and_deterministic(root, make_session):
    """Same inventory, same plan: phases in order, oldest file first within each."""
    for n in range(12):
        make_session(f"s{n:02d}", days=35 + (n * 7) % 12)
    for n in range(12, 20):
        make_session(f"s{n:02d}", days=8 + n % 5)
    first = plan_of(root, keep_last_n=0)
    second = plan_of(root, keep_last_n=0)
    assert actions(first) == actions(second)
    deletes = [a for a in first.actions if a.kind == "delete"]
    compresses = [a for a in first.actions if a.kind == "compress"]
    assert first.actions == deletes + compresses
    for group in (deletes, compresses):
        assert [a.mtime for a in group] == sorted(a.mtime for a in group)


def test_size_cap_deletes_oldest_unprotected_sessions(root, make_session):
    """Above the cap the oldest sessions go first, whole, until the estimate fits."""
    for n in range(6):
        make_session(f"s{n}", days=6 - n, seqs=range(1, 1500))  # ~0.4 MB each
    plan = plan_of(root, keep_last_n=1, max_total_mb=1, compress_after_days=0)
    deleted = [a.rel for a in plan.actions]
    assert deleted == [f"s{n}.jsonl" for n in range(len(deleted))]  # a prefix, oldest first
    assert "s5.jsonl" not in deleted
    assert {a.phase for a in plan.actions} == {"size"}
    assert plan.estimated_after <= 2**20 < plan.estimated_after + plan.actions[-1].size
    assert not plan.cap_unmet


def test_size_cap_that_cannot_be_met_keeps_protected_sessions_and_says_so(root, make_session):
    """keep-last-n wins over the size cap; the plan notes the cap cannot be met."""
    for n in range(4):
        make_session(f"s{n}", days=4 - n, seqs=range(1, 1500))
    plan = plan_of(root, keep_last_n=3, max_total_mb=1, compress_after_days=0)
    assert actions(plan) == [("delete", "s0.jsonl")]
    assert plan.cap_unmet
    assert any("cannot be met" in note and "--keep-last-n 3" in note for note in plan.notes)


def test_size_cap_counts_on_compression_savings(root, make_session):
    """Files to be compressed count at their estimated compressed size against the cap."""
    for n in range(3):
        make_session(f"s{n}", days=10 + n, seqs=range(1, 1500))
    plan = plan_of(root, keep_last_n=0, max_total_mb=1)
    assert [a.kind for a in plan.actions] == ["compress"] * 3
    assert 0 < plan.compression_ratio < 0.5


def test_foreign_jsonl_files_are_left_alone(root, make_session):
    """Another program's .jsonl (or one whose events name another session) is never planned."""
    (root / "app.jsonl").write_text('{"level": "info", "msg": "hello"}\n')
    other = make_session("mine", days=50)
    (root / "theirs.jsonl").write_bytes(other.read_bytes())  # events of session "mine"
    (root / "empty.jsonl").write_bytes(b"")
    for name in ("app.jsonl", "theirs.jsonl", "empty.jsonl"):
        t = time.time() - 60 * 86_400
        os.utime(root / name, (t, t))
    report = run_retention(root, RetentionPolicy(keep_last_n=0), apply=False)
    assert actions(report.plan) == [("delete", "mine.jsonl")]
    assert [rel for rel, _size, _why in report.inventory.foreign] == [
        "app.jsonl",
        "empty.jsonl",
        "theirs.jsonl",
    ]


def test_todays_daily_file_and_recent_files_are_live(root, make_session):
    """Today's YYYY-MM-DD file and files written within the grace period are never planned."""
    today = time.strftime("%Y-%m-%d", time.gmtime())
    make_session("rotating", day=today, days=40)  # even with an old mtime
    make_session("recent", days=0.001)
    plan = plan_of(root, keep_last_n=0, max_total_mb=0, max_age_days=1, compress_after_days=0)
    assert actions(plan) == []
    report = run_retention(
        root, RetentionPolicy(keep_last_n=0, max_age_days=1), apply=False, now=time.time()
    )
    reasons = {k.rel: k.reason for k in report.plan.skipped}
    assert "today's file" in reasons[f"{today}/rotating.jsonl"]


def test_file_held_by_a_running_logger_is_live_however_old(root, make_session, make_event, age):
    """A JsonlExecutionLogger's shared lock makes the probe fail: not compressed, not deleted."""
    path = make_session("running", days=40)
    with JsonlExecutionLogger(root) as logger:
        logger.emit(make_event(session_id="running"))
        age(path, 40)  # looks idle for 40 days, but the writer still has it open
        plan = plan_of(root, keep_last_n=0)
        assert actions(plan) == []
        assert sorted(k.reason for k in plan.skipped) == [
            "older than 30 days but live: a writer holds its lock",
            "older than 7 days but live: a writer holds its lock",
        ]


def test_dry_run_changes_nothing(root, make_session, tree):
    """Without --apply no file, directory, size or mtime changes (no lock or state file)."""
    make_session("a", days=40)
    make_session("b", days=10)
    make_session("c", days=40, day="2026-01-01")
    before = tree(root)
    report = run_retention(root, RetentionPolicy(keep_last_n=0), apply=False)
    assert len(report.plan.actions) == 3
    assert tree(root) == before


def test_dry_run_lock_probe_does_not_disturb_a_writer(root, make_session):
    """The probe's exclusive lock is released at once: a writer can lock the file after it."""
    path = make_session("idle", days=40)
    plan_of(root)
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    finally:
        os.close(fd)


@pytest.mark.parametrize("compression", [True, False])
def test_policy_from_config_honours_retention_days_and_compression(compression):
    """retention_days is the age limit; compression = false turns compression off."""
    policy = RetentionPolicy.from_config(
        TelemetryConfig(retention_days=12, compression=compression)
    )
    assert policy.max_age_days == 12
    assert policy.compress_after_days == (7 if compression else 0)
