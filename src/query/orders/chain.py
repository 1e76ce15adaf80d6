"""One order's chain: every event of its life, oldest first, with the time between steps.

The fold remembers where each event of an order is (its ``positions``); the chain reads
exactly those lines back, so its cost follows the chain, not the session.
"""

from __future__ import annotations

from datetime import UTC
from typing import cast

from src.query.files import SessionFiles
from src.query.orders.latency import between_ms, mark_of
from src.query.orders.model import ChainStep, OrderChain
from src.query.orders.positions import read_lines
from src.query.orders.state import OrderState, to_row
from src.query.records import Scalar, decode_record, parse_instant_dt
from src.query.timeline import describe

__all__ = ["build_chain"]


def build_chain(session_id: str, session: SessionFiles, st: OrderState, now: float) -> OrderChain:
    lines = read_lines(session, st.positions)
    steps: list[ChainStep] = []
    previous = None
    for key in sorted(set(st.positions)):
        line = lines.get(key)
        rec = decode_record(line) if line is not None else None
        if rec is None:
            continue  # gone since (retention), or not what was folded: left out
        ts = parse_instant_dt(rec.data.get("ts"))
        if ts is None:
            continue
        mono_ns, event_id = rec.data.get("mono_ns"), rec.data.get("event_id")
        # A valid record's event_id is a scalar (the validity rule); mono_ns is as decoded.
        mark = mark_of(ts, cast(Scalar, mono_ns), cast(Scalar, event_id))
        steps.append(
            ChainStep(
                ts=ts.astimezone(UTC).isoformat(),
                kind=rec.kind,
                description=describe(rec.kind, rec.payload),
                since_previous_ms=between_ms(previous, mark),
                event=rec.data,
            )
        )
        previous = mark
    return OrderChain(session_id, to_row(st, now), steps)
