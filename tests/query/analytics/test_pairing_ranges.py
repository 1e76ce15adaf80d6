"""Merging parts summarised on their own: identical to one pass, wherever the cuts fall."""

from __future__ import annotations

import itertools
import pickle

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from src.query.analytics import pairing_state
from src.query.analytics.summary import SummaryBuilder
from src.query.records import ParseStats
from tests.query.builder_state import builder_state
from tests.query.event_streams import START, event_lines, stamped

AS_OF = START.timestamp() + 3600


def one_pass(lines: list[bytes]) -> dict:
    builder, stats = SummaryBuilder(gap_threshold_s=30.0), ParseStats()
    builder.consume([b"".join(line + b"\n" for line in lines)], stats)
    return builder.result(stats, as_of=AS_OF)


def in_parts(lines: list[bytes], cuts: list[int], finish: bool = True) -> tuple[dict, int]:
    """Summarise each part alone (later parts through pickle, as from a worker), then
    merge in order; a part that cannot be merged is re-read. Returns (result, re-reads).

    ``finish`` prepares each part as a worker does (sorted samples, open orders noted)."""
    merged, stats, rereads = merge_parts(lines, cuts, finish=finish)
    return merged.result(stats, as_of=AS_OF), rereads


def merge_parts(
    lines: list[bytes], cuts: list[int], *, finish: bool = False, ordered: bool = False
) -> tuple[SummaryBuilder, ParseStats, int]:
    """The merged builder, its parse counts and the re-reads. ``ordered``: as a read that
    saves its state does it (samples kept in file order, every part merged in full)."""
    bounds = sorted({0, len(lines), *(c % (len(lines) + 1) for c in cuts)})
    parts = [lines[a:b] for a, b in itertools.pairwise(bounds)]
    merged, stats, rereads = None, ParseStats(), 0
    for number, part in enumerate(parts):
        data = [b"".join(line + b"\n" for line in part)]
        if merged is None:
            merged = SummaryBuilder(gap_threshold_s=30.0)
            merged.consume(data, stats)
            if finish or ordered:  # as the first part comes from a worker
                prepare(merged, ordered)
                merged = pickle.loads(pickle.dumps(merged))
            continue
        later, later_stats = (
            SummaryBuilder(gap_threshold_s=30.0, follows_unknown=True, seq_base=number << 48),
            ParseStats(),
        )
        later.consume(data, later_stats)
        if finish or ordered:
            prepare(later, ordered)
        later = pickle.loads(pickle.dumps(later))
        if merged.absorb(later, last=not ordered and number == len(parts) - 1):
            stats.add(later_stats)
        else:
            rereads += 1
            merged.consume(data, stats)  # numbered on from the parts before, as one pass
    assert merged is not None
    return merged, stats, rereads


def prepare(builder: SummaryBuilder, ordered: bool) -> None:
    if ordered:
        pairing_state.pack_samples(builder.pairer)
    else:
        builder.pairer.finish_part()


def one_pass_builder(lines: list[bytes]) -> SummaryBuilder:
    builder = SummaryBuilder(gap_threshold_s=30.0)
    builder.consume([b"".join(line + b"\n" for line in lines)], ParseStats())
    return builder


@settings(max_examples=300, deadline=None)
@given(event_lines(), st.lists(st.integers(0, 400), max_size=6), st.booleans())
def test_merged_parts_equal_one_pass(lines, cuts, finish):
    """Cut anywhere into any number of parts: pairing, gates, timestamps and counts agree."""
    lines = stamped(lines)
    assert in_parts(lines, cuts, finish)[0] == one_pass(lines)


@settings(max_examples=200, deadline=None)
@given(event_lines(orders=False), st.lists(st.integers(0, 400), max_size=6), st.booleans())
def test_merged_parts_equal_one_pass_without_order_events(lines, cuts, finish):
    """Logs without order events (fills pair to intents by intent_id): any cut agrees too."""
    lines = stamped(lines)
    assert in_parts(lines, cuts, finish)[0] == one_pass(lines)


@settings(max_examples=300, deadline=None)
@given(event_lines(), st.lists(st.integers(0, 400), max_size=6))
def test_ordered_merges_leave_one_pass_state(lines, cuts):
    """Merged in full with samples kept in file order (a read that saves its state): the
    merged builder is one pass's, samples' order and order numbers included, and reads on
    as one pass does."""
    lines = stamped(lines)
    merged = merge_parts(lines, cuts, ordered=True)[0]
    assert builder_state(merged) == builder_state(one_pass_builder(lines))
    more = [b"".join(line + b"\n" for line in lines)]
    reference = one_pass_builder(lines)
    merged.consume(more, ParseStats())
    reference.consume(more, ParseStats())
    assert builder_state(merged) == builder_state(reference)


def events(*specs: tuple[str, dict]) -> list[bytes]:
    """Lines from (kind, payload) pairs, 1 ms apart; ``event_id`` may ride in the payload."""
    out = []
    for n, (kind, payload) in enumerate(specs):
        payload = dict(payload)
        event = {
            "ts": (START.timestamp() + n / 1000),
            "session_id": "s",
            "symbol": "X",
            "kind": kind,
            "event_id": payload.pop("event_id", f"e{n}"),
            "mono_ns": 10**9 + n * 10**6,
            "payload": payload,
        }
        event["ts"] = START.fromtimestamp(event["ts"], START.tzinfo).isoformat()
        out.append(orjson.dumps(event))
    return out


def assert_every_cut_agrees(lines: list[bytes]) -> int:
    expected, rereads = one_pass(lines), 0
    for i in range(len(lines) + 1):
        for j in range(i, len(lines) + 1):
            for finish in (False, True):
                got, n = in_parts(lines, [i, j], finish)
                assert got == expected, (i, j, finish)
                rereads += n
            merged = merge_parts(lines, [i, j], ordered=True)[0]
            assert builder_state(merged) == builder_state(one_pass_builder(lines)), (i, j)
    return rereads


def test_an_order_id_reused_after_a_cut_replaces_the_open_order():
    """An order left open before the cut, then reused and filled after it, is not open."""
    lines = events(
        ("intent", {"intent_id": "h", "side": "buy", "current_price": 10}),
        ("order", {"client_id": "c", "intent_id": "h", "quantity": 2}),
        ("fill", {"client_id": "c", "filled_quantity": 1, "fill_price": 10}),
        ("intent", {"intent_id": "i", "side": "buy", "current_price": 10}),
        ("order", {"client_id": "c", "intent_id": "i", "quantity": 1}),
        ("fill", {"client_id": "c", "filled_quantity": 1, "fill_price": 10}),
        ("fill", {"client_id": "c", "filled_quantity": 1, "fill_price": 10}),
    )
    assert one_pass(lines).fills.orders_without_fills == 0
    assert_every_cut_agrees(lines)


def test_intents_and_orders_without_ids_pair_in_arrival_order_across_cuts():
    """Arrival-order pairing takes the oldest intent or order, whichever part it is in."""
    lines = events(
        ("intent", {"side": "buy", "current_price": 10}),
        ("intent", {"side": "buy", "current_price": 11}),
        ("order", {"side": "buy", "quantity": 1}),
        ("intent", {"side": "buy", "current_price": 12}),
        ("order", {"side": "buy", "quantity": 2}),
        ("fill", {"filled_quantity": 1, "fill_price": 10.5}),
        ("fill", {"filled_quantity": 1, "fill_price": 11.5}),
        ("order", {"side": "buy", "quantity": 1}),
        ("fill", {"filled_quantity": 2, "fill_price": 11.5}),
    )
    assert_every_cut_agrees(lines)


def test_a_fill_id_seen_before_the_cut_forces_a_reread():
    """A duplicate fill id across a cut cannot be settled optimistically: re-read, same result."""
    lines = events(
        ("intent", {"intent_id": "i", "side": "buy", "current_price": 10}),
        ("order", {"client_id": "a", "intent_id": "i", "quantity": 1}),
        ("fill", {"client_id": "a", "filled_quantity": 1, "fill_price": 10, "event_id": "x"}),
        ("intent", {"intent_id": "j", "side": "buy", "current_price": 10}),
        ("order", {"client_id": "b", "intent_id": "j", "quantity": 1}),
        ("fill", {"client_id": "b", "filled_quantity": 1, "fill_price": 10, "event_id": "x"}),
    )
    assert one_pass(lines).fills.duplicate_fills == 1
    assert assert_every_cut_agrees(lines) > 0


def test_intent_ids_reused_and_blocked_across_cuts():
    """Blocking, re-sending and ordering one intent id lands the same wherever the cuts are."""
    lines = events(
        ("intent", {"intent_id": "i", "side": "buy", "current_price": 10}),
        ("gate", {"intent_id": "i", "gate_name": "A", "passed": False, "reason": "big"}),
        ("order", {"client_id": "c", "intent_id": "i", "quantity": 1}),
        ("intent", {"intent_id": "i", "side": "sell", "current_price": 11}),
        ("order", {"client_id": "d", "intent_id": "i", "quantity": 1}),
        ("fill", {"client_id": "d", "filled_quantity": 1, "fill_price": 10}),
        ("order", {"client_id": "d", "intent_id": "i", "quantity": 1}),
        ("fill", {"client_id": "c", "filled_quantity": 1, "fill_price": 10}),
    )
    assert_every_cut_agrees(lines)


def test_an_intent_resent_and_ordered_after_a_cut_is_not_pending_any_more():
    """Re-sent after the cut and ordered there, the intent is gone for a third order."""
    lines = events(
        ("intent", {"intent_id": "i", "side": "buy", "current_price": 10}),
        ("intent", {"intent_id": "i", "side": "buy", "current_price": 11}),
        ("order", {"client_id": "c", "intent_id": "i", "quantity": 1}),
        ("order", {"client_id": "d", "intent_id": "i", "quantity": 1}),
    )
    assert one_pass(lines).latency.intent_to_order.count == 1
    assert_every_cut_agrees(lines)
