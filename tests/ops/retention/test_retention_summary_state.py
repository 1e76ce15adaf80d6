"""Retention and saved summary states: a state follows its log (compressed: still valid;
deleted: removed with it)."""

from __future__ import annotations

from src.ops.retention.policy import RetentionPolicy
from src.ops.retention.run import run_retention
from src.query import summary_state
from src.query.engine import summarize
from src.query.filters import EventFilter


def _summary(root, sid):
    seen = [0]

    def progress(done: int, total: int, lines: int) -> None:
        seen[0] = max(seen[0], lines)

    got = summarize(root, EventFilter.build(session_id=sid), as_of=0, progress=progress)
    return got, seen[0]


def _states(root):
    d = root / summary_state.STATE_DIR
    return sorted(p.name for p in d.glob("*.state")) if d.is_dir() else []


def test_compression_keeps_the_state_valid_and_deletion_removes_it(root, make_session):
    make_session("old", days=40)
    make_session("middle", days=10, seqs=range(1, 50))
    before, read_before = _summary(root, "middle")
    _summary(root, "old")
    assert read_before == 49 and len(_states(root)) == 2
    policy = RetentionPolicy(keep_last_n=0)
    report = run_retention(root, policy, apply=True)
    assert [(o.action.file_kind, o.action.phase, o.status) for o in report.outcomes] == [
        ("log", "age", "done"),
        ("summary_state", "age", "done"),  # named in the plan, gone with "old.jsonl"
        ("log", "compress", "done"),
    ]
    assert report.outcomes[1].action.session_id == "old"
    assert not (root / "middle.jsonl").exists() and (root / "middle.jsonl.gz").exists()
    after, read_after = _summary(root, "middle")
    one_pass = summarize(root, EventFilter.build(session_id="middle"), as_of=0, saved_state=False)
    assert read_after == 0  # answered from the state, now covering the .gz
    assert after == one_pass and after.event_count == before.event_count == 49
    assert len(_states(root)) == 1  # "old" was deleted, and its state with it
