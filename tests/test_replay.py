"""Replay: events rebuilt in order into any emitter, paced by their timestamps, filtered."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec

from src.execution.events import ExecutionEvent
from src.execution.telemetry import QueuedEmitter
from src.execution.telemetry.testing import InMemoryEmitter
from src.query.engine import iter_events
from src.query.filters import EventFilter
from src.replay import Pacer, replay

FIX = Path(__file__).resolve().parent / "fixtures" / "execution_telemetry"


def original_of(event: ExecutionEvent) -> ExecutionEvent:
    """A replayed event with its original's id back (a replay is a new event: own id)."""
    payload = dict(event.payload)
    origin = payload.pop("origin_event_id")
    assert event.event_id != origin
    return msgspec.structs.replace(event, event_id=origin, payload=payload)


class FakeClock:
    """A clock that only moves when the pacer sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 9))
        self.now += seconds


def test_replays_every_event_in_log_order():
    """A session's events reach the sink in log order, equal to the logged events."""
    sink = InMemoryEmitter()
    flt = EventFilter.build(session_id="session_latency")
    stats = replay(FIX, flt, sink)
    expected = [ExecutionEvent.from_dict(r.data) for r in iter_events(FIX, flt)]
    assert [original_of(e) for e in sink.events] == expected
    assert stats.replayed == 25 and stats.skipped == 0


def test_filters_rename_and_restamp():
    """--type/--symbol select; session_id renames; restamp gives the replay time."""
    sink = InMemoryEmitter()
    flt = EventFilter.build(session_id="session_clean", kind="fill", symbol="ETH-USD")
    replay(FIX, flt, sink, session_id="copy-1", restamp=True)
    assert [(e.kind, e.symbol, e.session_id) for e in sink] == [("fill", "ETH-USD", "copy-1")] * 2
    assert all(e.ts.year >= 2026 for e in sink)
    assert sink.events[0].payload["origin_event_id"] == "evt-fixture-session_clean-10"
    assert sink.events[0].event_id != "evt-fixture-session_clean-10"


def test_sessions_are_merged_by_time():
    """Without a session filter, events of all sessions come out in timestamp order."""
    sink = InMemoryEmitter()
    replay(FIX, EventFilter(), sink)
    times = [e.ts for e in sink]
    assert len(times) == 67 and times == sorted(times)
    assert len({e.session_id for e in sink}) == 4


def test_pacer_waits_the_logged_gaps_divided_by_speed():
    """At speed 10, gaps of 1 s and 2 s become waits of 0.1 s and 0.2 s; backward steps wait 0."""
    clock = FakeClock()
    pacer = Pacer(10, clock=clock, sleep=clock.sleep)
    for t in (0.0, 1.0, 3.0, 2.5, 3.5):
        pacer.wait(t)
    assert clock.sleeps == [0.1, 0.2, 0.05]


def test_pacer_measures_from_the_start_so_late_wakeups_do_not_drift():
    """When the sink took longer than the gap, the next event is not delayed further."""
    clock = FakeClock()
    pacer = Pacer(1, clock=clock, sleep=clock.sleep)
    pacer.wait(0.0)
    clock.now += 5.0  # the sink was slow
    pacer.wait(1.0)
    pacer.wait(6.5)
    assert clock.sleeps == [1.5]  # due at 6.5 s after the start, not 5.5 s after the sink


def test_pacer_caps_long_gaps():
    """max_gap_s=2 turns an overnight gap into a 2 s wait (at speed 1)."""
    clock = FakeClock()
    pacer = Pacer(1, max_gap_s=2, clock=clock, sleep=clock.sleep)
    pacer.wait(0.0)
    pacer.wait(36_000.0)
    assert clock.sleeps == [2.0]


def test_replay_paces_with_the_given_pacer():
    """replay() waits through its pacer: session_latency spans 41.75 s, 4.175 s at speed 10."""
    clock = FakeClock()
    stats = replay(
        FIX,
        EventFilter.build(session_id="session_latency"),
        InMemoryEmitter(),
        pacer=Pacer(10, clock=clock, sleep=clock.sleep),
    )
    assert round(sum(clock.sleeps), 6) == 4.175 == round(stats.waited_s, 6)


def test_lines_that_are_not_events_are_counted_with_a_reason(tmp_path):
    """A valid line of an unknown kind or mode is skipped and counted, never emitted."""
    lines = [
        {"ts": "2025-01-01T00:00:00Z", "session_id": "s", "mode": "paper", "kind": "fill"},
        {"ts": "2025-01-01T00:00:01Z", "session_id": "s", "mode": "paper", "kind": "heartbeat"},
        {"ts": "2025-01-01T00:00:02Z", "session_id": "s", "mode": "sim", "kind": "fill"},
        {"ts": "2025-01-01T00:00:03Z", "mode": "paper", "kind": "fill"},
    ]
    (tmp_path / "s.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    sink = InMemoryEmitter()
    stats = replay(tmp_path, EventFilter(), sink)
    assert stats.replayed == 1 and stats.skipped == 3
    assert stats.skip_reasons == {
        "invalid event kind 'heartbeat'": 1,
        "invalid event mode 'sim'": 1,
        "missing session_id": 1,
    }


def test_flushing_lets_a_small_queue_drain_instead_of_dropping():
    """Into a 5-event queue, flushing every 5 events loses nothing at full speed."""
    inner = InMemoryEmitter()
    queued = QueuedEmitter(inner, maxsize=5)
    try:
        stats = replay(FIX, EventFilter(), queued, flush_every=5)
    finally:
        queued.close()
    assert stats.sink_dropped == 0 and len(inner) == 67
