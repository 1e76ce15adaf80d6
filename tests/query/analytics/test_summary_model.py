"""The summary is a typed object; the bridge turns it into the spec's plain dict once."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import orjson
import pytest

from src.live.execution_bridge import get_execution_summary
from src.query.analytics.summary_model import (
    FillReport,
    GatesReport,
    LatencyStats,
    OpenOrder,
    SlippageStats,
    Summary,
)
from src.query.engine import summarize
from src.query.filters import EventFilter
from src.query.incremental import IncrementalSummary

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "execution_telemetry"
SESSIONS = ["session_clean", "session_latency", "session_bad_lines", "session_archived"]
AS_OF = 1_767_225_600.0  # 2026-01-01: every fixture's open orders have an age


def _walk(value: object) -> list[object]:
    """Every value nested in ``value`` (dataclass fields, dict values, list items)."""
    out = [value]
    if dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            out += _walk(getattr(value, f.name))
    elif isinstance(value, dict):
        for item in value.values():
            out += _walk(item)
    elif isinstance(value, list):
        for item in value:
            out += _walk(item)
    return out


@pytest.mark.parametrize("session", SESSIONS)
def test_summaries_are_typed_all_the_way_down(session):
    summary = summarize(FIXTURES, EventFilter.build(session_id=session), as_of=AS_OF)
    assert isinstance(summary, Summary)
    assert isinstance(summary.latency.intent_to_fill, LatencyStats)
    assert isinstance(summary.slippage.overall, SlippageStats)
    assert isinstance(summary.fills, FillReport) and isinstance(summary.gates, GatesReport)
    # No plain dict stands for a structure: dicts only map names (kinds, symbols, gates).
    for value in _walk(summary):
        if isinstance(value, dict):
            assert all(isinstance(k, str) for k in value)
            assert all(isinstance(v, int) or dataclasses.is_dataclass(v) for v in value.values()), (
                value
            )
    with pytest.raises(dataclasses.FrozenInstanceError):
        summary.event_count = 0  # type: ignore[misc]


@pytest.mark.parametrize("session", SESSIONS)
def test_the_bridge_gives_the_spec_dict_of_the_same_summary(session):
    typed = summarize(FIXTURES, EventFilter.build(session_id=session), as_of=AS_OF)
    plain = get_execution_summary(session, base_path=FIXTURES, as_of=AS_OF)
    assert type(plain) is dict
    # Plain builtins only (what json.dumps takes), equal to the typed summary's fields.
    assert json.loads(json.dumps(plain)) == plain
    # The spec's five kinds come first, zero when absent; otherwise the typed fields.
    assert list(plain["kind_counts"])[:5] == ["intent", "order", "fill", "gate", "error"]
    assert {k: v for k, v in plain["kind_counts"].items() if v} == typed.kind_counts
    assert plain == {**typed.to_dict(), "kind_counts": plain["kind_counts"]}
    assert plain["latency"]["intent_to_fill"]["p95_ms"] == typed.latency.intent_to_fill.p95_ms
    assert plain["fills"]["open_orders"] == [dataclasses.asdict(o) for o in typed.fills.open_orders]
    # The dashboard encodes the typed summary directly: the same JSON as the dict.
    assert orjson.loads(orjson.dumps(typed)) == typed.to_dict()


def test_open_order_ages_are_recomputed_on_a_cached_summary(tmp_path):
    lines = (FIXTURES / "session_clean.jsonl").read_bytes().splitlines(keepends=True)
    # Without its fills, every order of the clean session stays open.
    kept = [line for line in lines if b'"kind": "fill"' not in line.replace(b'":"', b'": "')]
    (tmp_path / "session_clean.jsonl").write_bytes(b"".join(kept))
    live = IncrementalSummary(tmp_path, "session_clean", max_age_s=3600)
    first = live.refresh(as_of=AS_OF)
    later = live.refresh(as_of=AS_OF + 100)  # the cached result, aged
    assert len(first.fills.open_orders) == 4
    assert [o.age_s + 100 for o in first.fills.open_orders] == [
        o.age_s for o in later.fills.open_orders
    ]
    assert all(isinstance(o, OpenOrder) for o in later.fills.open_orders)
    assert later.orders.oldest_open_age_s == first.orders.oldest_open_age_s + 100
    assert [o.overdue_s + 100 for o in first.orders.overdue_orders] == [
        o.overdue_s for o in later.orders.overdue_orders
    ]
    assert dataclasses.replace(later, fills=first.fills, orders=first.orders) == first
