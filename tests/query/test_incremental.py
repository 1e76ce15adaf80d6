"""IncrementalSummary: appends are read once, partial lines wait, replaced files rebuild."""

from __future__ import annotations

import gzip
import json

import pytest

from src.query.engine import summarize
from src.query.filters import EventFilter
from src.query.incremental import IncrementalSummary


def ev(n: int, kind: str = "gate") -> bytes:
    return (
        json.dumps(
            {
                "ts": f"2025-01-01T00:00:{n % 60:02d}Z",
                "session_id": "s",
                "symbol": "X",
                "mode": "paper",
                "kind": kind,
                "payload": {"gate_name": "G", "passed": True},
            }
        )
        + "\n"
    ).encode()


def test_refresh_reads_only_appended_lines_and_matches_a_full_scan(tmp_path):
    """After several appends the incremental summary equals a fresh full summary."""
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"".join(ev(n) for n in range(10)))
    inc = IncrementalSummary(tmp_path, "s", max_age_s=0)
    assert inc.refresh(as_of=0).event_count == 10
    with path.open("ab") as fh:
        fh.write(b"".join(ev(n, "fill") for n in range(10, 15)))
    got = inc.refresh(as_of=0)
    full = summarize(tmp_path, EventFilter.build(session_id="s"), as_of=0)
    assert got == full and got.kind_counts == {"fill": 5, "gate": 10}


def test_a_line_being_written_waits_for_its_newline(tmp_path):
    """A partial last line is neither counted as torn nor lost: it is read once complete."""
    path = tmp_path / "s.jsonl"
    line = ev(1)
    path.write_bytes(ev(0) + line[:20])
    inc = IncrementalSummary(tmp_path, "s", max_age_s=0)
    first = inc.refresh()
    assert first.event_count == 1 and first.parse.invalid_lines == 0
    with path.open("ab") as fh:
        fh.write(line[20:])
    assert inc.refresh().event_count == 2


def test_compressed_replacement_triggers_a_rebuild(tmp_path):
    """When retention swaps s.jsonl for s.jsonl.gz the counts stay right (no double count)."""
    path = tmp_path / "s.jsonl"
    data = b"".join(ev(n) for n in range(8))
    path.write_bytes(data)
    inc = IncrementalSummary(tmp_path, "s")
    assert inc.refresh().event_count == 8
    with gzip.open(tmp_path / "s.jsonl.gz", "wb") as fh:
        fh.write(data)
    path.unlink()
    assert inc.refresh().event_count == 8


def test_unchanged_session_reuses_the_result_but_updates_ages(tmp_path, monkeypatch):
    """No new bytes: no recomputation (no re-sorting), yet open-order ages follow the clock."""
    order = {
        "ts": "2025-01-01T00:00:00Z",
        "session_id": "s",
        "symbol": "X",
        "mode": "paper",
        "kind": "order",
        "payload": {"client_id": "c1", "side": "buy", "quantity": 1},
    }
    (tmp_path / "s.jsonl").write_text(json.dumps(order) + "\n")
    inc = IncrementalSummary(tmp_path, "s")
    first = inc.refresh(as_of=1735689600.0 + 10)
    calls = []
    real = inc._builder.result
    monkeypatch.setattr(inc._builder, "result", lambda *a, **k: calls.append(1) or real(*a, **k))
    second = inc.refresh(as_of=1735689600.0 + 70)
    assert calls == []
    assert first.fills.open_orders[0].age_s == 10
    assert second.fills.open_orders[0].age_s == 70


def test_growing_session_recomputes_at_most_once_per_max_age(tmp_path):
    """Appends within max_age_s are consumed but reported at the next recomputation."""
    path = tmp_path / "s.jsonl"
    path.write_bytes(ev(0))
    inc = IncrementalSummary(tmp_path, "s", max_age_s=3600)
    assert inc.refresh().event_count == 1
    with path.open("ab") as fh:
        fh.write(ev(1))
    assert inc.refresh().event_count == 1  # throttled
    inc.max_age_s = 0
    assert inc.refresh().event_count == 2  # consumed earlier, reported now


def test_observer_sees_each_matching_event_once_across_appends(tmp_path):
    """A builder's observe hook gets every accounted event exactly once, in file order."""
    from src.query.analytics.summary import SummaryBuilder

    seen: list[float] = []
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"".join(ev(n) for n in range(5)))
    inc = IncrementalSummary(
        tmp_path,
        "s",
        max_age_s=0,
        builder_factory=lambda: SummaryBuilder(observe=lambda rec: seen.append(rec.t)),
        match=lambda kind, symbol, t: t % 60 != 3,
    )
    inc.refresh()
    with path.open("ab") as fh:
        fh.write(ev(5) + ev(6)[:10])
    got = inc.refresh()
    assert [int(t % 60) for t in seen] == [0, 1, 2, 4, 5]
    assert got.event_count == 5 and got.parse.valid_events == 6


def test_builder_factory_runs_again_on_rebuild(tmp_path):
    """When a file is replaced the summary starts over with a fresh builder from the factory."""
    from src.query.analytics.summary import SummaryBuilder

    made: list[SummaryBuilder] = []

    def factory() -> SummaryBuilder:
        made.append(SummaryBuilder())
        return made[-1]

    path = tmp_path / "s.jsonl"
    path.write_bytes(ev(0))
    inc = IncrementalSummary(tmp_path, "s", max_age_s=0, builder_factory=factory)
    inc.refresh()
    with gzip.open(tmp_path / "s.jsonl.gz", "wb") as fh:
        fh.write(ev(0) + ev(1))
    path.unlink()
    assert inc.refresh().event_count == 2
    assert len(made) == 2 and inc.builder is made[-1]


@pytest.mark.parametrize("count", [1, 8], ids=["shorter", "longer"])
def test_a_file_truncated_and_written_again_is_summarised_anew(tmp_path, count):
    """Truncated in place (same inode) and written again, shorter than before or past the
    old read position: the summary is rebuilt (it kept the old counts, or read on from the
    old offset, mid-line, adding to them)."""
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"".join(ev(n) for n in range(5)))
    inc = IncrementalSummary(tmp_path, "s", max_age_s=0)
    assert inc.refresh(as_of=0).event_count == 5
    with path.open("r+b") as fh:
        fh.truncate(0)
        fh.write(b"".join(ev(n, "fill") for n in range(count)))
    full = summarize(tmp_path, EventFilter.build(session_id="s"), as_of=0)
    assert inc.refresh(as_of=0) == full and full.kind_counts == {"fill": count}


def test_a_stop_ends_a_read_within_a_batch_of_lines(tmp_path):
    """``stop()`` is asked before each batch of lines: a read of 3,000 lines whose stop turns
    True after the first batch raises Cancelled, having handed the builder 1,024 lines."""
    from src.query.incremental import _BATCH, Cancelled

    (tmp_path / "s.jsonl").write_bytes(b"".join(ev(n) for n in range(3000)))
    asked = []

    def stop() -> bool:
        asked.append(1)
        return len(asked) > 1

    inc = IncrementalSummary(tmp_path, "s", stop=stop, persist=False)
    with pytest.raises(Cancelled):
        inc.refresh(as_of=0)
    assert inc._builder.event_count == _BATCH
    never = IncrementalSummary(tmp_path, "s", stop=lambda: False, persist=False)
    assert never.refresh(as_of=0).event_count == 3000


def test_resume_says_whether_the_saved_state_answers(tmp_path):
    (tmp_path / "s.jsonl").write_bytes(b"".join(ev(n) for n in range(10)))
    assert not IncrementalSummary(tmp_path, "s").resume()  # nothing saved yet
    IncrementalSummary(tmp_path, "s", max_age_s=0).refresh(as_of=0)  # saves
    inc = IncrementalSummary(tmp_path, "s")
    assert inc.resume() and inc.resume()  # once is enough; asking again changes nothing
    assert inc.refresh(as_of=0).event_count == 10
