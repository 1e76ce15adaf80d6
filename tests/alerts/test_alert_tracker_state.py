"""The alert engine's file tracker keeps the plain summary state current too: a CLI
summary in a new process after an evaluation reads nothing of the session."""

from __future__ import annotations

from src.alerts.tracker import FileTracker
from src.query.analytics.summary import SummaryBuilder
from src.query.summary_state import StateStore
from tests.query.test_summary_state import AS_OF, lines, state_files
from tests.webui.test_summaries import cli_reads


def test_after_the_engine_the_cli_summary_reads_nothing_but_what_is_new(tmp_path, repo_root):
    (tmp_path / "s.jsonl").write_bytes(lines(400))
    tracker = FileTracker(tmp_path, "s", horizon_s=600)
    assert tracker.view(AS_OF, running=None, last_write_t=None).summary.event_count == 400
    plain = StateStore(tmp_path, "s", SummaryBuilder()).name
    assert plain in [p.name for p in state_files(tmp_path)]
    assert cli_reads(tmp_path, repo_root, session="s") == (0, True)
    with (tmp_path / "s.jsonl").open("ab") as fh:
        fh.write(lines(8, 400))
    assert cli_reads(tmp_path, repo_root, session="s") == (8, True)


def test_an_engine_looking_at_the_past_saves_no_plain_state(tmp_path):
    """--as-of in the past filters the events: that builder is not the plain one's."""
    (tmp_path / "s.jsonl").write_bytes(lines(400))
    tracker = FileTracker(tmp_path, "s", horizon_s=600, until=AS_OF - 10**9)
    assert tracker.view(AS_OF, running=None, last_write_t=None).summary.event_count == 0
    plain = StateStore(tmp_path, "s", SummaryBuilder()).name
    assert plain not in [p.name for p in state_files(tmp_path)]
