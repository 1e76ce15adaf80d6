"""Emit cost: JSONL logger vs logging.FileHandler+JSON vs NullEmitter, and submit_order overhead.

Targets (foundation issue): JSONL emit median <= 3 us and >= 5x faster than a
logging.FileHandler with a JSON formatter; NullEmitter < 0.3 us; submit_order with the JSONL
logger at most 15 us over NullEmitter. Everything is measured in this one run.

Issue 14: building an ``ExecutionEvent`` and emitting it to the JSONL logger costs at most
1.3x the floor, ``orjson.dumps`` of the same dict plus one ``os.write`` on an ``O_APPEND``
descriptor. The floor's dict holds the event's values (``ts`` the aware UTC datetime, which
orjson writes exactly as ``isoformat()``, ``event_id`` given), so it does all the work a line
needs and nothing else. Both get the same prepared inputs and run call by call, swapping
places every call (:func:`paired_both_orders`: of two callables timed one after the other,
the second measures faster - the floor timed against itself shows it, printed as the A/A
line), in several rounds; the ratio of the medians is printed per round. For information:
one round in the fixed order used before 2026-11-30 evening (build + emit first), and one
against ``to_dict()`` (``ts`` already text).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from benchmarks._timing import Timing, _overhead, _summarise, paired, per_call
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


def paired_both_orders(
    fn_a: Callable[[], object], fn_b: Callable[[], object], calls: int, warmup: int = 2_000
) -> tuple[Timing, Timing]:
    """Time two callables call by call, ``fn_a`` first on even calls and second on odd ones.

    Whichever of two callables runs second measures faster (timed against itself, the floor
    is 14-18% slower in the first place on the development machine), so ``paired``'s fixed
    order favours its second callable. Here each callable's median is the mean of its
    medians in the two places; p99 and mean are over all its calls."""
    for _ in range(warmup):
        fn_a()
        fn_b()
    clock = time.perf_counter_ns
    overhead = _overhead(clock)
    half = calls // 2
    a_first, b_second, b_first, a_second = [0] * half, [0] * half, [0] * half, [0] * half
    gc.disable()
    try:
        for i in range(half):
            t0 = clock()
            fn_a()
            t1 = clock()
            fn_b()
            t2 = clock()
            fn_b()
            t3 = clock()
            fn_a()
            t4 = clock()
            a_first[i], b_second[i], b_first[i], a_second[i] = t1 - t0, t2 - t1, t3 - t2, t4 - t3
    finally:
        gc.enable()

    def both(first: list[int], second: list[int]) -> Timing:
        whole = _summarise(first + second, overhead)
        median = _summarise(first, overhead).median_us + _summarise(second, overhead).median_us
        return Timing(median_us=median / 2, p99_us=whole.p99_us, mean_us=whole.mean_us)

    return both(a_first, a_second), both(b_first, b_second)


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


@dataclass
class FloorRuns:
    rounds: list[tuple[Timing, Timing]]  # (build + emit, floor), both orders
    fixed: tuple[Timing, Timing]  # the same in the fixed order, build + emit first
    text: tuple[Timing, Timing]  # against the floor of to_dict() (ts as text), both orders
    aa_fixed: tuple[Timing, Timing]  # the floor against itself, fixed order
    aa_both: tuple[Timing, Timing]  # the floor against itself, both orders
    build: Timing  # ExecutionEvent(...) alone


def bench_build_emit(tmp: Path) -> FloorRuns:
    """Build + emit vs the floor, ``FLOOR_ROUNDS`` rounds in both orders; for information
    one round in the fixed order, one against ``to_dict()`` and the floor against itself
    (A/A) in the fixed order and in both; and building alone."""
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
    logger = JsonlExecutionLogger(tmp / "build", fsync="none")
    fd = os.open(tmp / "floor.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    emit, dumps, write, newline = logger.emit, orjson.dumps, os.write, orjson.OPT_APPEND_NEWLINE

    def build_and_emit_fn() -> Callable[[], None]:
        index = [0]

        def build_and_emit() -> None:
            i = index[0]
            index[0] = (i + 1) % size
            ts, payload, seq, mono = inputs[i]
            emit(
                ExecutionEvent(
                    ts=ts, session_id="bench_build", symbol="BTC-USD", mode="paper",
                    kind="fill", payload=payload, seq=seq, mono_ns=mono,
                )
            )  # fmt: skip

        return build_and_emit

    def floor_fn(dicts: list[dict[str, object]], fd: int) -> Callable[[], None]:
        index = [0]

        def floor() -> None:
            i = index[0]
            index[0] = (i + 1) % size
            write(fd, dumps(dicts[i], option=newline))

        return floor

    def build_only() -> None:
        i = index[0]
        index[0] = (i + 1) % size
        ts, payload, seq, mono = inputs[i]
        ExecutionEvent(
            ts=ts, session_id="bench_build", symbol="BTC-USD", mode="paper", kind="fill",
            payload=payload, seq=seq, mono_ns=mono,
        )  # fmt: skip

    index = [0]
    fd_aa = os.open(tmp / "floor-aa.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    build_and_emit, floor = build_and_emit_fn(), floor_fn(values, fd)
    try:
        rounds = [
            paired_both_orders(build_and_emit, floor, FLOOR_CALLS) for _ in range(FLOOR_ROUNDS)
        ]
        fixed = paired(build_and_emit, floor, FLOOR_CALLS)
        text = paired_both_orders(build_and_emit, floor_fn(as_text, fd), FLOOR_CALLS)
        twin = floor_fn(values, fd_aa)
        aa_fixed = paired(floor, twin, FLOOR_CALLS)
        aa_both = paired_both_orders(floor, twin, FLOOR_CALLS)
        build = per_call(build_only, CALLS)
    finally:
        logger.close()
        os.close(fd)
        os.close(fd_aa)
    return FloorRuns(rounds, fixed, text, aa_fixed, aa_both, build)


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
        floor_runs = bench_build_emit(tmp)
        submit = bench_submit(tmp)
    for name, timing in {**sinks, **submit}.items():
        print(f"  {name:38s} {timing}")
    print(f"  {'ExecutionEvent(...) alone':38s} {floor_runs.build}")
    ratios = [a.median_us / b.median_us for a, b in floor_runs.rounds]
    for n, (built, floor) in enumerate(floor_runs.rounds, 1):
        print(
            f"  round {n}: build+emit {built.median_us:5.2f} us, floor {floor.median_us:5.2f} us"
            f" -> {ratios[n - 1]:4.2f}x"
        )
    for name, (built, floor) in (
        ("fixed order (build+emit first)", floor_runs.fixed),
        ("to_dict() floor (ts as text)", floor_runs.text),
    ):
        print(
            f"  {name}: build+emit {built.median_us:5.2f} us, floor {floor.median_us:5.2f} us"
            f" -> {built.median_us / floor.median_us:4.2f}x"
        )
    (first, second), (first_b, second_b) = floor_runs.aa_fixed, floor_runs.aa_both
    print(
        f"  A/A, the floor against itself: fixed order {first.median_us / second.median_us:4.2f}x,"
        f" both orders {first_b.median_us / second_b.median_us:4.2f}x"
    )
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
        f" median of {len(ratios)} rounds in both orders, {min(ratios):.2f}-{max(ratios):.2f})"
    )


if __name__ == "__main__":
    main()
