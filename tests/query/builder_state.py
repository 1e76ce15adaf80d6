"""A summary builder's whole state as plain data, for "equals one pass exactly" tests.

Everything a later read continues from is in it, in the order it is kept: the samples
in file order (the live charts mark positions in them), order numbers, pending intents,
open and completed orders, the arrival-order queues, fill ids, timestamps, gates, errors.
"""

from __future__ import annotations

import gzip
from collections import deque
from pathlib import Path
from typing import Any

import msgspec

from src.query.analytics.summary import SummaryBuilder
from src.query.records import ParseStats
from src.query.summary_state import Mark

LEGS = ("intent_to_order", "order_to_fill", "intent_to_fill", "order_to_ack", "order_to_cancel")
COUNTERS = (
    "negative_intervals",
    "orders",
    "fills",
    "filled_orders",
    "fills_without_orders",
    "duplicate_fills",
    "outcomes",
    "ended_partly_filled",
    "acknowledged",
    "partial_fills",
    "partially_filled_orders",
    "unmatched",
    "next_seq",
)


def builder_state(builder: SummaryBuilder) -> dict[str, Any]:
    p = builder.pairer
    p.unpack()
    health = builder.timestamps
    state = {
        "samples": {leg: list(getattr(p, leg)) for leg in LEGS},
        "slippage": {k: list(v) for k, v in p.slippage.items() if len(v)},
        "counters": {name: getattr(p, name) for name in COUNTERS},
        "intents": {sid: dict(m) for sid, m in p._intents.items() if m},
        "orders": {sid: dict(m) for sid, m in p._orders.items() if m},
        "intent_fifo": {k: list(q) for k, q in p._intent_fifo.items() if q},
        "order_fifo": {k: list(q) for k, q in p._order_fifo.items() if q},
        "fill_ids": set(p._fill_ids),
        "kinds": builder.kind_counts,
        "symbols": builder.symbols,
        "span": (builder.first_ts, builder.last_ts, builder.exact_steps),
        "gates": (builder.gates.evaluations, builder.gates.blocks, builder.gates.reasons),
        "timestamps": (list(health.first.items()), list(health.last.items()), health.result()),
        "errors": (builder.errors, builder.last_error),
    }
    return {k: _plain(v) for k, v in state.items()}


def _plain(value: Any) -> Any:
    """Comparable data: NaN as text (NaN != NaN), structs as their fields."""
    if isinstance(value, float) and value != value:
        return "NaN"
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | deque):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, msgspec.Struct):
        return (type(value).__name__, _plain(msgspec.structs.asdict(value)))
    return value


def one_pass_state(base: Path, marks: list[Mark], gap_threshold_s: float) -> dict[str, Any]:
    """The state of one pass over what ``marks`` cover (complete lines only)."""
    chunks = []
    for mark in marks:
        data = (base / mark.name).read_bytes()
        chunks.append(gzip.decompress(data) if mark.gz else data[: mark.offset])
    for exact in (False, True):
        builder = SummaryBuilder(gap_threshold_s=gap_threshold_s, exact_steps=exact)
        for chunk in chunks:
            if chunk:
                builder.consume([chunk], ParseStats())
        if not builder.needs_exact_steps:
            break
    return builder_state(builder)
