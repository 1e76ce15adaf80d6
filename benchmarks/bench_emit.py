"""Emit cost: JSONL logger vs logging.FileHandler+JSON vs NullEmitter, and submit_order overhead.

Targets (foundation issue): JSONL emit median <= 3 us and >= 5x faster than a
logging.FileHandler with a JSON formatter; NullEmitter < 0.3 us; submit_order with the JSONL
logger at most 15 us over NullEmitter. Everything is measured in this one run.

Issue 14: building an ``ExecutionEvent`` and emitting it to the JSONL logger costs at most
1.3x the floor, ``orjson.dumps`` of the same dict plus one ``os.write`` on an ``O_APPEND``
descriptor. The floor's dict holds the event's values (``ts`` the aware UTC datetime, which
orjson writes exactly as ``isoformat()``, ``event_id`` given), so it does all the work a line
needs and nothing else. Both get the same prepared inputs and run alternately (paired), in
several rounds; the ratio of the medians is printed per round. One more round against
``to_dict()`` (``ts`` already text) is printed for information.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import statistics
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import orjson

from benchmarks._timing import Timing, paired, per_call
from src.execution import (
    ExecutionPipeline,
    KillSwitchGate,
    MaxNotionalGate,
    OrderIntent,
    PaperExecutor,
    PriceSanityGate,
)
from src.execution.events import ExecutionEvent
from src.execution.telemetry import JsonlExecutionLogger, NullEmitter

CALLS = 200_000
FLOOR_ROUNDS = 5
FLOOR_CALLS = 40_000


def typical_payload(n: int) -> dict[str, object]:
    return {
        "client_id": f"ord-5f1c2a9b7d3e-{n:x}",
        "intent_id": f"int-5f1c2a9b7d3e-{n:x}",
        "side": "buy",
        "filled_quantity": 0.25,
        "fill_price": 100020.0,
        "fill_notional": 25005.0,
        "fill_fee": 2.5005,
        "reference_price": 100000.0,
    }


def typical_event(n: int) -> ExecutionEvent:
    return ExecutionEvent(
        ts=datetime.now(UTC),
        session_id="bench_session",
        symbol="BTC-USD",
        mode="paper",
        kind="fill",
        payload=typical_payload(n),
        seq=n,
        mono_ns=1_000_000 + n,
    )


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(record.msg.to_dict())


def _cycle(events: list[ExecutionEvent]):
    index = [0]
    size = len(events)

    def next_event() -> ExecutionEvent:
        i = index[0]
        index[0] = i + 1 if i + 1 < size else 0
        return events[i]

    return next_event


def bench_sinks(tmp: Path) -> dict[str, Timing]:
    events = [typical_event(n) for n in range(4_096)]
    results: dict[str, Timing] = {}

    nxt = _cycle(events)
    logger = JsonlExecutionLogger(tmp / "jsonl", fsync="none")
    results["JsonlExecutionLogger.emit"] = per_call(lambda: logger.emit(nxt()), CALLS)
    logger.close()

    nxt = _cycle(events)
    std = logging.getLogger("bench.filehandler")
    std.propagate = False
    std.setLevel(logging.INFO)
    handler = logging.FileHandler(tmp / "filehandler.jsonl")
    handler.setFormatter(JsonFormatter())
    std.addHandler(handler)
    results["logging.FileHandler + json"] = per_call(lambda: std.info(nxt()), CALLS // 4)
    handler.close()
    std.removeHandler(handler)

    nxt = _cycle(events)
    null = NullEmitter()
    results["NullEmitter.emit"] = per_call(lambda: null.emit(nxt()), CALLS)

    nxt = _cycle(events)
    results["(baseline: fetch the event only)"] = per_call(nxt, CALLS)
    return results


def bench_build_emit(tmp: Path) -> tuple[list[tuple[Timing, Timing]], Timing]:
    """Build + emit vs the floor, paired, ``FLOOR_ROUNDS`` rounds; and building alone."""
    size = 4_096
    inputs = [(datetime.now(UTC), typical_payload(n), n, 1_000_000 + n) for n in range(size)]
    built = [
        ExecutionEvent(
            ts=ts, session_id="bench_build", symbol="BTC-USD", mode="paper", kind="fill",
            payload=payload, seq=seq, mono_ns=mono,
        )
        for ts, payload, seq, mono in inputs
    ]  # fmt: skip
    values = [{**e.to_dict(), "ts": e.ts} for e in built]
    as_text = [e.to_dict() for e in built]
    dicts = values
    logger = JsonlExecutionLogger(tmp / "build", fsync="none")
    fd = os.open(tmp / "floor.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    index = [0, 0, 0]
    emit, dumps, write, newline = logger.emit, orjson.dumps, os.write, orjson.OPT_APPEND_NEWLINE

    def build_and_emit() -> None:
        i = index[0]
        index[0] = (i + 1) % size
        ts, payload, seq, mono = inputs[i]
        emit(
            ExecutionEvent(
                ts=ts, session_id="bench_build", symbol="BTC-USD", mode="paper", kind="fill",
                payload=payload, seq=seq, mono_ns=mono,
            )
        )  # fmt: skip

    def floor() -> None:
        i = index[1]
        index[1] = (i + 1) % size
        write(fd, dumps(dicts[i], option=newline))

    def build_only() -> None:
        i = index[2]
        index[2] = (i + 1) % size
        ts, payload, seq, mono = inputs[i]
        ExecutionEvent(
            ts=ts, session_id="bench_build", symbol="BTC-USD", mode="paper", kind="fill",
            payload=payload, seq=seq, mono_ns=mono,
        )  # fmt: skip

    try:
        rounds = [paired(build_and_emit, floor, FLOOR_CALLS) for _ in range(FLOOR_ROUNDS)]
        dicts = as_text
        rounds.append(paired(build_and_emit, floor, FLOOR_CALLS))
        build = per_call(build_only, CALLS)
    finally:
        logger.close()
        os.close(fd)
    return rounds, build


def bench_submit(tmp: Path) -> dict[str, Timing]:
    def pipeline_with(emitter) -> ExecutionPipeline:
        pipeline = ExecutionPipeline(
            executor=PaperExecutor(),
            emitter=emitter,
            gates=[KillSwitchGate(), PriceSanityGate(), MaxNotionalGate(1e9)],
        )
        pipeline.update_price("BTC-USD", 100_000.0)
        return pipeline

    intent = OrderIntent(
        symbol="BTC-USD",
        side="buy",
        quantity=0.25,
        current_price=100_000.0,
        strategy_key="bench",
        session_id="bench_submit",
    )
    null_pipeline = pipeline_with(NullEmitter())
    logger = JsonlExecutionLogger(tmp / "submit", fsync="none")
    jsonl_pipeline = pipeline_with(logger)
    null, jsonl = paired(
        lambda: null_pipeline.submit_order(intent),
        lambda: jsonl_pipeline.submit_order(intent),
        40_000,
    )
    logger.close()
    return {"submit_order, NullEmitter": null, "submit_order, JsonlExecutionLogger": jsonl}


def main() -> None:
    print(
        f"== emit benchmark ({platform.python_implementation()} {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d}) =="
    )
    with tempfile.TemporaryDirectory(dir=".") as tmp_dir:
        tmp = Path(tmp_dir)
        sinks = bench_sinks(tmp)
        rounds, build = bench_build_emit(tmp)
        submit = bench_submit(tmp)
    for name, timing in {**sinks, **submit}.items():
        print(f"  {name:38s} {timing}")
    print(f"  {'ExecutionEvent(...) alone':38s} {build}")
    ratios = [a.median_us / b.median_us for a, b in rounds]
    for n, (built, floor) in enumerate(rounds, 1):
        name = f"round {n}" if n <= FLOOR_ROUNDS else "to_dict() floor (ts as text)"
        print(
            f"  {name}: build+emit {built.median_us:5.2f} us, floor {floor.median_us:5.2f} us"
            f" -> {ratios[n - 1]:4.2f}x"
        )
    ratios = ratios[:FLOOR_ROUNDS]
    jsonl = sinks["JsonlExecutionLogger.emit"].median_us
    std = sinks["logging.FileHandler + json"].median_us
    null = sinks["NullEmitter.emit"].median_us
    extra = (
        submit["submit_order, JsonlExecutionLogger"].median_us
        - submit["submit_order, NullEmitter"].median_us
    )
    print("  ratios and targets:")
    print(f"    JSONL emit median            {jsonl:6.2f} us   (target <= 3 us)")
    print(f"    FileHandler+json / JSONL     {std / jsonl:6.1f} x    (target >= 5x)")
    print(f"    NullEmitter emit median      {null:6.3f} us   (target < 0.3 us)")
    print(f"    submit_order JSONL - Null    {extra:6.2f} us   (target <= 15 us; 7 events/order)")
    print(
        f"    build+emit / floor           {statistics.median(ratios):6.2f} x    (target <= 1.3x;"
        f" median of {len(ratios)} paired rounds, {min(ratios):.2f}-{max(ratios):.2f})"
    )


if __name__ == "__main__":
    main()
