"""JsonlExecutionLogger's fast path: repeated (session, symbol, mode, kind) events with seq and
mono_ns skip encode_event_line and the per-call checks; its lines and its guarantees are the
slow path's."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from src.execution.events import ExecutionEvent
from src.execution.serialization import encode_event_line
from src.execution.telemetry import JsonlExecutionLogger, session_files
from src.execution.telemetry import jsonl as jsonl_module


def pipeline_event(n: int, **overrides: object) -> ExecutionEvent:
    """An event as the pipeline builds it: aware UTC ts, seq and mono_ns set."""
    fields: dict[str, object] = {
        "ts": datetime(2025, 1, 1, 12, 0, 2, 123456, tzinfo=UTC) + timedelta(seconds=n),
        "session_id": "s",
        "symbol": "BTC-USD",
        "mode": "paper",
        "kind": "fill",
        "payload": {"client_id": f"ord-{n}", "fill_price": 100020.0, "n": n},
        "seq": n,
        "mono_ns": 1_000 + n,
    }
    fields.update(overrides)
    return ExecutionEvent(**fields)  # type: ignore[arg-type]


def lines_of(path):
    return path.read_bytes().splitlines(keepends=True)


def test_lines_are_encode_event_lines_byte_for_byte(tmp_path):
    """Every event, on the fast path or not, is written exactly as encode_event_line gives it."""
    events = []
    for n in range(3):  # the same fixed fields again and again: the fast path after the first
        events += [
            pipeline_event(n),
            pipeline_event(n, kind="order", payload={"side": "buy", "q": 'é ☃ "q" \\'}),
            pipeline_event(n, ts=datetime(2025, 1, 1, 12, 0, 2, tzinfo=UTC)),  # no microseconds
            pipeline_event(n, ts=datetime(2025, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))),
            pipeline_event(n, ts=datetime(2025, 1, 1, 12, 0, 2)),  # naive: local time
            pipeline_event(n, seq=None),
            pipeline_event(n, mono_ns=None),
            pipeline_event(n, payload={"price": Decimal("1.5"), 7: "int key", "t": (1, 2)}),
            pipeline_event(n, payload={}),
            pipeline_event(n, event_id='evt-"quoted"\\'),
            pipeline_event(n, event_id="evt-\x00\x1f\x7f\u2028\u2029é☃😀/<>&"),
            pipeline_event(n, symbol="ÉTH/€", mode="live", kind="error"),
        ]
    with JsonlExecutionLogger(tmp_path) as logger:
        for event in events:
            logger.emit(event)
        assert logger.stats.emitted == len(events) and logger.stats.errors == 0
    assert lines_of(tmp_path / "s.jsonl") == [encode_event_line(e) for e in events]


def test_repeated_fixed_fields_skip_the_line_encoder(tmp_path, monkeypatch):
    """After the first event of a (session, symbol, mode, kind), the logger encodes the line
    itself: encode_event_line runs once per combination, not once per event."""
    calls = []
    real = jsonl_module.encode_event_line
    monkeypatch.setattr(
        jsonl_module, "encode_event_line", lambda event: calls.append(event) or real(event)
    )
    with JsonlExecutionLogger(tmp_path) as logger:
        for n in range(50):
            logger.emit(pipeline_event(n))
            logger.emit(pipeline_event(n, kind="order"))
            logger.emit(pipeline_event(n, seq=None))  # no seq: always the general encoder
    assert len(calls) == 2 + 50
    seqs = [json.loads(line).get("seq") for line in lines_of(tmp_path / "s.jsonl")]
    assert seqs == [x for n in range(50) for x in (n, n, None)]


def test_retired_descriptors_are_never_written_through(tmp_path, monkeypatch):
    """A session whose descriptor was retired (more sessions than max_open_files) and closed
    reopens its file: no line is lost, errors stay at zero, none lands in another file."""
    monkeypatch.setattr(session_files, "RETIRE_GRACE_S", 0.0)  # closed at the next open
    with JsonlExecutionLogger(tmp_path, max_open_files=2) as logger:
        for n in range(6):
            for s in range(4):
                logger.emit(pipeline_event(n, session_id=f"s{s}", payload={"s": s}))
        assert logger.stats.errors == 0 and logger.stats.emitted == 24
    for s in range(4):
        lines = [json.loads(line) for line in lines_of(tmp_path / f"s{s}.jsonl")]
        assert [(x["payload"]["s"], x["seq"]) for x in lines] == [(s, n) for n in range(6)]


def test_emit_after_close_is_dropped_not_written(tmp_path):
    """After close the fast path is gone: an event is counted as dropped, not as an error."""
    logger = JsonlExecutionLogger(tmp_path)
    for n in range(3):
        logger.emit(pipeline_event(n))
    logger.close()
    logger.emit(pipeline_event(3))
    assert logger.stats.dropped == 1 and logger.stats.errors == 0
    assert len(lines_of(tmp_path / "s.jsonl")) == 3


def test_daily_rotation_switches_files_for_repeated_events(tmp_path):
    """With rotation='daily', events that would take the fast path still move to the new
    day's file at midnight UTC."""
    now = [datetime(2025, 1, 1, 23, 59, 58, tzinfo=UTC).timestamp()]
    with JsonlExecutionLogger(tmp_path, rotation="daily", clock=lambda: now[0]) as logger:
        for n in range(3):
            logger.emit(pipeline_event(n))
        now[0] += 3  # 00:00:01 on the 2nd
        for n in range(3, 6):
            logger.emit(pipeline_event(n))
    day1 = [json.loads(x)["seq"] for x in lines_of(tmp_path / "2025-01-01" / "s.jsonl")]
    day2 = [json.loads(x)["seq"] for x in lines_of(tmp_path / "2025-01-02" / "s.jsonl")]
    assert (day1, day2) == ([0, 1, 2], [3, 4, 5])


def test_an_event_id_that_is_not_a_string_is_written_or_refused_as_the_general_path_does(
    tmp_path,
):
    """ExecutionEvent does not type-check event_id: the fast path encodes it as
    encode_event_line does (orjson), so what one path writes or refuses, the other does."""
    odd_ids: list[object] = [7, 1.5, None, b"eA==", Decimal("1.1"), {1: 2}]
    for n, odd in enumerate(odd_ids):
        root = tmp_path / str(n)
        with JsonlExecutionLogger(root) as logger:
            logger.emit(pipeline_event(0))  # settles the fast path for these fields
            logger.emit(pipeline_event(1, event_id=odd))
            stats = logger.stats
        written = lines_of(root / "s.jsonl")
        try:
            expected = encode_event_line(pipeline_event(1, event_id=odd))
        except TypeError:  # orjson cannot write it: refused and counted, never a wrong line
            assert len(written) == 1 and stats.errors == 1, odd
        else:
            assert written[1] == expected, odd


def test_a_session_name_that_never_settles_costs_bounded_opens(tmp_path, monkeypatch):
    """If the session's name never refers to the descriptor just locked (a path swapped
    again and again, an odd filesystem), the logger keeps its last open instead of
    spinning in emit; the event is written."""
    opens = []
    real_open = session_files.os.open

    def counting_open(path, *args, **kwargs):
        if str(path).endswith("s.jsonl"):  # (close() opens /dev/null as a stand-in)
            opens.append(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(session_files, "names", lambda path, fd: False)
    monkeypatch.setattr(session_files.os, "open", counting_open)
    event = pipeline_event(0)
    with JsonlExecutionLogger(tmp_path) as logger:
        logger.emit(event)
        assert logger.stats.emitted == 1 and logger.stats.errors == 0
    monkeypatch.undo()
    assert 1 < len(opens) <= session_files.OPEN_TRIES
    assert lines_of(tmp_path / "s.jsonl") == [encode_event_line(event)]
