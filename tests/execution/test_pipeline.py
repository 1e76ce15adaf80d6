"""Tests for ``ExecutionPipeline``: the event sequence, payloads, ids and failure handling."""

from __future__ import annotations

import dataclasses
import logging
import math
from datetime import timedelta
from typing import Any

import pytest

from src.execution import (
    ExecutionEvent,
    ExecutionPipeline,
    GateDecision,
    IntentValidationGate,
    KillSwitchGate,
    MarketState,
    OrderIntent,
    PaperExecutor,
    PriceSanityGate,
)
from src.execution.telemetry import ExecutionEventEmitter
from src.execution.telemetry.testing import InMemoryEmitter, capture_events

# The spec's payload table: keys every reader may rely on.
SPEC_KEYS = {
    "intent": {"side", "quantity", "current_price", "strategy_key"},
    "order": {"client_id", "side", "quantity", "order_type"},
    "fill": {"client_id", "filled_quantity", "fill_price", "fill_notional", "fill_fee"},
    "gate": {"gate_name", "passed", "reason"},
    "error": {"error", "stacktrace"},
}


def intent(**changes: object) -> OrderIntent:
    fields: dict[str, object] = {
        "symbol": "BTC-USD",
        "side": "buy",
        "quantity": 0.5,
        "current_price": 100_000.0,
        "strategy_key": "test_strategy",
    }
    fields.update(changes)
    return OrderIntent(**fields)  # type: ignore[arg-type]


class RecordingGate:
    """A gate with a fixed answer that remembers which intents it saw."""

    def __init__(self, name: str, passed: bool = True, reason: str = "ok") -> None:
        self.name = name
        self.decision = GateDecision(passed, reason)
        self.seen: list[OrderIntent] = []

    def check(self, intent: OrderIntent, market: MarketState) -> GateDecision:
        self.seen.append(intent)
        return self.decision


class SpyExecutor(PaperExecutor):
    """A paper executor that remembers the orders it was asked to execute."""

    def __init__(self) -> None:
        super().__init__()
        self.executed: list[Any] = []

    def submit(self, order, market_price):  # type: ignore[no-untyped-def]
        self.executed.append(order)
        return super().submit(order, market_price)


class ExplodingGate:
    name = "Exploding"

    def check(self, intent: OrderIntent, market: MarketState) -> GateDecision:
        raise RuntimeError("risk service unreachable")


class SloppyGate:
    """Returns a bare bool instead of a GateDecision."""

    name = "Sloppy"

    def check(self, intent: OrderIntent, market: MarketState) -> Any:
        return True


class FailingExecutor:
    def __init__(self) -> None:
        self.calls = 0

    def execute(self, order: Any, market_price: float | None) -> Any:
        self.calls += 1
        raise RuntimeError("exchange down")


class BrokenSink:
    """A sink NOT derived from ExecutionEventEmitter whose emit always raises."""

    def __init__(self) -> None:
        self.calls = 0

    def emit(self, event: ExecutionEvent) -> None:
        self.calls += 1
        raise OSError(28, "No space left on device")


def by_kind(events: InMemoryEmitter, kind: str) -> list[ExecutionEvent]:
    return [e for e in events if e.kind == kind]


# -- the event sequence -----------------------------------------------------------------


def test_filled_intent_emits_intent_gates_order_ack_fill_in_order():
    """A passing intent emits intent, one gate event per gate (intent validation first, then
    the given gates in order), order, the paper venue's ack, fill."""
    with capture_events() as events:
        pipeline = ExecutionPipeline(
            executor=PaperExecutor(),
            emitter=events,
            gates=[RecordingGate("First"), RecordingGate("Second")],
        )
        result = pipeline.submit_order(intent())
    assert result.status == "filled"
    assert events.kinds() == ["intent", "gate", "gate", "gate", "order", "ack", "fill"]
    names = [e.payload["gate_name"] for e in by_kind(events, "gate")]
    assert names == ["IntentValidation", "First", "Second"]


def test_event_envelope_fields():
    """Every event carries the intent's session, symbol and the pipeline's mode."""
    with capture_events() as events:
        pipeline = ExecutionPipeline(PaperExecutor(), events, mode="backtest")
        pipeline.submit_order(intent(symbol="ETH-USD", current_price=3_500.0, session_id="s-9"))
    assert len(events) == 5  # intent, the validation gate, order, ack, fill
    for event in events:
        assert (event.session_id, event.symbol, event.mode) == ("s-9", "ETH-USD", "backtest")


@pytest.mark.parametrize("kind", ["intent", "order", "fill", "gate"])
def test_payload_has_the_spec_keys(kind):
    """Each kind's payload has at least the keys of the spec's table."""
    with capture_events() as events:
        pipeline = ExecutionPipeline(PaperExecutor(), events, gates=[RecordingGate("G")])
        pipeline.submit_order(intent())
    for event in by_kind(events, kind):
        assert SPEC_KEYS[kind] <= set(event.payload)
    assert len(by_kind(events, kind)) == (2 if kind == "gate" else 1)


def test_payload_values_match_the_intent_order_and_fill():
    """Payload values are the intent's, the order's and the fill's own figures."""
    with capture_events() as events:
        pipeline = ExecutionPipeline(
            PaperExecutor(slippage_bps=10, fee_bps=5),
            events,
            gates=[RecordingGate("G", reason="fine")],
        )
        result = pipeline.submit_order(intent(side="BUY", quantity=0.5, current_price=100_000.0))
    intent_p, valid_p, gate_p, order_p, ack_p, fill_p = (e.payload for e in events)
    assert ack_p["client_id"] == order_p["client_id"] == result.order.client_id
    assert ack_p["order_id"] == fill_p["order_id"] == result.order_id
    assert valid_p == {**valid_p, "gate_name": "IntentValidation", "passed": True}
    assert (intent_p["side"], intent_p["quantity"], intent_p["current_price"]) == (
        "buy",
        0.5,
        100_000.0,
    )
    assert intent_p["strategy_key"] == "test_strategy"
    assert gate_p == {**gate_p, "gate_name": "G", "passed": True, "reason": "fine"}
    assert order_p["client_id"] == result.order.client_id
    assert (order_p["side"], order_p["quantity"], order_p["order_type"]) == ("buy", 0.5, "market")
    assert fill_p["client_id"] == result.order.client_id
    assert fill_p["filled_quantity"] == 0.5
    assert fill_p["fill_price"] == pytest.approx(100_100.0)
    assert fill_p["fill_notional"] == pytest.approx(50_050.0)
    assert fill_p["fill_fee"] == pytest.approx(50_050.0 * 5 / 10_000)
    assert fill_p["fill_price"] == result.fill.fill_price


def test_correlation_ids_link_intent_order_and_fill():
    """The order carries the intent's intent_id; the fill carries the order's client_id too."""
    with capture_events() as events:
        pipeline = ExecutionPipeline(PaperExecutor(), events)
        submitted = intent()
        pipeline.submit_order(submitted)
        pipeline.submit_order(intent())  # a second chain must not share ids with the first
    intents, orders, fills = (by_kind(events, k) for k in ("intent", "order", "fill"))
    for i, o, f in zip(intents, orders, fills, strict=True):
        assert o.payload["intent_id"] == i.payload["intent_id"]
        assert f.payload["intent_id"] == i.payload["intent_id"]
        assert f.payload["client_id"] == o.payload["client_id"]
    assert intents[0].payload["intent_id"] == submitted.intent_id
    assert orders[0].payload["client_id"] != orders[1].payload["client_id"]
    assert intents[0].payload["intent_id"] != intents[1].payload["intent_id"]


# -- intent validation: the first gate of every pipeline ---------------------------------


def test_the_spec_two_argument_pipeline_emits_a_gate_decision_per_intent():
    """ExecutionPipeline(executor=..., emitter=...) as the spec writes it: each intent gets
    the IntentValidation gate decision between intent and order."""
    with capture_events() as events:
        pipeline = ExecutionPipeline(executor=PaperExecutor(), emitter=events)
        results = [pipeline.submit_order(intent()) for _ in range(3)]
    assert [r.status for r in results] == ["filled"] * 3
    assert events.kinds() == ["intent", "gate", "order", "ack", "fill"] * 3
    for gate in by_kind(events, "gate"):
        assert gate.payload["gate_name"] == "IntentValidation"
        assert gate.payload["passed"] is True
    intents = by_kind(events, "intent")
    assert [g.payload["intent_id"] for g in by_kind(events, "gate")] == [
        i.payload["intent_id"] for i in intents
    ]


@pytest.mark.parametrize("gates", [None, [], ()])
def test_validation_gate_is_there_even_without_gates(gates):
    """gates=None, [] or () still validate: the pipeline's gates start with it."""
    pipeline = ExecutionPipeline(PaperExecutor(), gates=gates)
    assert [g.name for g in pipeline.gates] == ["IntentValidation"]
    given = ExecutionPipeline(PaperExecutor(), gates=[IntentValidationGate(), RecordingGate("G")])
    assert [g.name for g in given.gates] == ["IntentValidation", "G"]  # not twice


def test_a_gate_built_on_the_validation_gate_is_kept():
    """Only the plain validation gate is not added twice: a strategy's own gate derived from
    it (extra checks) stays in the chain, after the built-in one (it was silently dropped)."""

    class DeskLimits(IntentValidationGate):
        name = "DeskLimits"

        def check(self, intent, market):  # type: ignore[no-untyped-def]
            return GateDecision(False, "desk closed")

    pipeline = ExecutionPipeline(PaperExecutor(), gates=[DeskLimits()])
    assert [g.name for g in pipeline.gates] == ["IntentValidation", "DeskLimits"]
    result = pipeline.submit_order(intent())
    assert (result.status, result.blocked_by, result.reason) == (
        "blocked",
        "DeskLimits",
        "desk closed",
    )


@pytest.mark.parametrize(
    ("changes", "shown"),
    [
        ({"quantity": math.nan}, "invalid quantity nan"),
        ({"quantity": -1.0}, "invalid quantity -1.0"),
        ({"quantity": 0}, "invalid quantity 0"),
        ({"quantity": "1"}, "invalid quantity '1'"),
        ({"side": "hold"}, "invalid side 'hold'"),
        ({"order_type": "stop"}, "invalid order_type 'stop'"),
        ({"order_type": "limit"}, "invalid limit_price None"),
        ({"symbol": 42}, "invalid symbol 42"),
        ({"symbol": ["BTC-USD"]}, "invalid symbol ['BTC-USD']"),
        ({"current_price": math.inf}, "invalid current_price inf"),
        ({"session_id": "../etc"}, "invalid session_id '../etc'"),
        ({"time_in_force": "FOK"}, "invalid time_in_force 'FOK'"),
        ({"expire_after_s": -1}, "invalid expire_after_s -1"),
        ({"expire_after_s": math.nan}, "invalid expire_after_s nan"),
    ],
)
def test_malformed_intent_is_blocked_with_a_reason_not_raised(changes, shown, tmp_path):
    """A malformed intent never raises into the strategy: the validation gate blocks it with a
    reason naming the bad value, later gates and the executor never see it, no order exists."""
    spy = SpyExecutor()
    later = RecordingGate("Later")
    with capture_events() as events:
        pipeline = ExecutionPipeline(spy, events, gates=[later])
        result = pipeline.submit_order(intent(**changes))
    assert (result.status, result.blocked_by) == ("blocked", "IntentValidation")
    assert shown in result.reason
    assert result.order is None and spy.executed == [] and later.seen == []
    assert events.kinds() == ["intent", "gate"]
    gate = by_kind(events, "gate")[0].payload
    assert (gate["gate_name"], gate["passed"]) == ("IntentValidation", False)
    assert shown in gate["reason"]
    assert pipeline.telemetry_errors == 0


def test_malformed_intent_lands_in_the_log_as_a_block(tmp_path):
    """Through the real JSONL logger: the intent and its BLOCK decision are written and the
    summary counts the rejection under IntentValidation."""
    from src.execution.telemetry import JsonlExecutionLogger
    from src.query.engine import summarize
    from src.query.filters import EventFilter

    with JsonlExecutionLogger(tmp_path) as logger:
        pipeline = ExecutionPipeline(executor=PaperExecutor(), emitter=logger)
        bad = pipeline.submit_order(intent(quantity=math.nan, session_id="s-bad"))
        good = pipeline.submit_order(intent(session_id="s-bad"))
    assert (bad.status, good.status) == ("blocked", "filled")
    summary = summarize(tmp_path, EventFilter(session_id="s-bad"))
    assert summary.kind_counts["gate"] == 2
    by_gate = summary.gates.by_gate["IntentValidation"]
    assert (by_gate.evaluations, by_gate.blocks) == (2, 1)
    assert "invalid quantity nan" in by_gate.top_reasons[0].reason


def test_something_that_is_not_an_intent_is_blocked():
    """Even a wrong object passed to submit_order is blocked, not raised."""
    with capture_events() as events:
        pipeline = ExecutionPipeline(PaperExecutor(), events)
        result = pipeline.submit_order({"symbol": "X"})  # type: ignore[arg-type]
    assert (result.status, result.blocked_by) == ("blocked", "IntentValidation")
    assert "not an OrderIntent" in result.reason
    assert events.kinds() == ["intent", "gate"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TaggedIntent(OrderIntent):
    """A strategy's own subclass whose __post_init__ forgets OrderIntent's checks."""

    tag: str = ""

    def __post_init__(self) -> None:
        pass


@pytest.mark.parametrize(
    ("changes", "shown"),
    [
        ({"side": "short"}, "invalid side 'short'"),
        ({"quantity": -1.0}, "invalid quantity -1.0"),
        ({"side": "BUY"}, "invalid side 'BUY'"),  # never normalised: the order would say BUY
        ({"time_in_force": "ioc"}, "invalid time_in_force 'ioc'"),
        ({"time_in_force": "FOK"}, "invalid time_in_force 'FOK'"),
        ({"expire_after_s": 0.0}, "invalid expire_after_s 0.0"),
    ],
)
def test_a_subclass_that_skips_the_checks_is_still_validated(changes, shown):
    """The validation gate judges the values the order would get, not a flag set when the
    intent was built: a subclass that skipped OrderIntent.__post_init__ is blocked."""
    fields = {"symbol": "BTC-USD", "side": "buy", "quantity": 0.5, "current_price": 1.0}
    with capture_events() as events:
        pipeline = ExecutionPipeline(PaperExecutor(), events)
        result = pipeline.submit_order(TaggedIntent(**{**fields, **changes}))
        good = pipeline.submit_order(TaggedIntent(**fields))
    assert (result.status, result.blocked_by) == ("blocked", "IntentValidation")
    assert shown in result.reason and result.order is None
    assert good.status == "filled"


def test_an_object_whose_attributes_raise_is_blocked_not_raised():
    """Reading what to log about a wrong object never raises into the strategy."""

    class Hostile:
        def __getattr__(self, name: str) -> Any:
            raise KeyError(name)

        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    with capture_events() as events:
        pipeline = ExecutionPipeline(PaperExecutor(), events)
        result = pipeline.submit_order(Hostile())  # type: ignore[arg-type]
    assert (result.status, result.blocked_by) == ("blocked", "IntentValidation")
    assert events.kinds()[:2] == ["intent", "gate"]


# -- blocking ---------------------------------------------------------------------------


def test_blocked_intent_creates_no_order_and_says_why():
    """A blocking gate stops the intent: no order/fill, result names the gate and reason."""
    spy = SpyExecutor()
    later = RecordingGate("Later")
    with capture_events() as events:
        pipeline = ExecutionPipeline(
            spy,
            events,
            gates=[RecordingGate("Open"), RecordingGate("Wall", False, "too big"), later],
        )
        result = pipeline.submit_order(intent())
    assert result.status == "blocked"
    assert result.blocked is True
    assert result.blocked_by == "Wall"
    assert result.reason == "too big"
    assert result.order is None and result.fill is None
    decisions = [(n, d.passed) for n, d in result.gate_decisions]
    assert decisions == [("IntentValidation", True), ("Open", True), ("Wall", False)]
    assert events.kinds() == ["intent", "gate", "gate", "gate"]
    assert by_kind(events, "gate")[-1].payload["passed"] is False
    assert by_kind(events, "gate")[-1].payload["reason"] == "too big"
    assert later.seen == []
    assert spy.executed == []


def test_real_gates_block_with_their_names():
    """Shipped gates block through the pipeline under their own names."""
    kill = KillSwitchGate()
    with capture_events() as events:
        pipeline = ExecutionPipeline(PaperExecutor(), events, gates=[kill, PriceSanityGate(500.0)])
        pipeline.update_price("BTC-USD", 100_000.0)
        stale = pipeline.submit_order(intent(current_price=92_000.0))
        kill.engage("incident 42")
        killed = pipeline.submit_order(intent())
    assert (stale.status, stale.blocked_by) == ("blocked", "PriceSanity")
    assert (killed.status, killed.blocked_by) == ("blocked", "KillSwitch")
    assert "incident 42" in killed.reason
    assert "order" not in events.kinds()


def test_gate_that_raises_blocks_and_emits_an_error_event():
    """A crashing gate fails closed: the intent is blocked and an error event is left behind."""
    later = RecordingGate("Later")
    with capture_events() as events:
        pipeline = ExecutionPipeline(PaperExecutor(), events, gates=[ExplodingGate(), later])
        result = pipeline.submit_order(intent())
    assert result.status == "blocked"
    assert result.blocked_by == "Exploding"
    assert "risk service unreachable" in result.reason
    assert events.kinds() == ["intent", "gate", "error", "gate"]
    error = by_kind(events, "error")[0].payload
    assert SPEC_KEYS["error"] <= set(error)
    assert "Exploding" in error["error"]
    assert "RuntimeError: risk service unreachable" in error["error"]
    assert "Traceback" in error["stacktrace"]
    assert "risk service unreachable" in error["stacktrace"]
    assert by_kind(events, "gate")[1].payload["passed"] is False
    assert later.seen == []


def test_gate_returning_a_non_decision_blocks():
    """A gate returning something other than a GateDecision (even True) blocks."""
    with capture_events() as events:
        pipeline = ExecutionPipeline(PaperExecutor(), events, gates=[SloppyGate()])
        result = pipeline.submit_order(intent())
    assert (result.status, result.blocked_by) == ("blocked", "Sloppy")
    assert events.kinds() == ["intent", "gate", "error", "gate"]


# -- executor failures ------------------------------------------------------------------


def test_executor_failure_emits_error_with_stacktrace():
    """An executor exception becomes an error event (after the order) and status "error"."""
    executor = FailingExecutor()
    with capture_events() as events:
        pipeline = ExecutionPipeline(executor, events, gates=[RecordingGate("G")])
        result = pipeline.submit_order(intent())
    assert executor.calls == 1
    assert result.status == "error"
    assert result.error == "RuntimeError: exchange down"
    assert result.fill is None
    assert events.kinds() == ["intent", "gate", "gate", "order", "error"]
    payload = by_kind(events, "error")[0].payload
    assert SPEC_KEYS["error"] <= set(payload)
    assert payload["error"] == "RuntimeError: exchange down"
    assert payload["stacktrace"].startswith("Traceback")
    assert "exchange down" in payload["stacktrace"]
    assert payload["client_id"] == result.order.client_id
    assert payload["intent_id"] == result.intent.intent_id


def test_no_price_anywhere_is_an_execution_error():
    """Without a quote or a market price the paper executor fails and the result says so."""
    with capture_events() as events:
        result = ExecutionPipeline(PaperExecutor(), events).submit_order(intent(current_price=None))
    assert result.status == "error"
    assert "no usable market price" in result.error
    assert events.kinds() == ["intent", "gate", "order", "error"]


def test_execution_uses_the_last_market_price_over_the_quote():
    """Once a market price is known it, not the intent's quote, is the fill reference."""
    pipeline = ExecutionPipeline(PaperExecutor(slippage_bps=0, fee_bps=0))
    pipeline.update_price("BTC-USD", 101_000.0)
    result = pipeline.submit_order(intent(current_price=100_000.0))
    assert result.fill.reference_price == 101_000.0
    assert result.fill.fill_price == 101_000.0


# -- ordering and identity fields -------------------------------------------------------


def test_seq_increases_by_one_per_session_independently():
    """seq counts 1, 2, 3, ... within each session, unaffected by other sessions' events."""
    with capture_events() as events:
        pipeline = ExecutionPipeline(PaperExecutor(), events, gates=[RecordingGate("G")])
        for session in ["a", "b", "a", "c", "b", "a"]:
            pipeline.submit_order(intent(session_id=session))
    for session, submits in {"a": 3, "b": 2, "c": 1}.items():
        seqs = [e.seq for e in events if e.session_id == session]
        assert seqs == list(range(1, 6 * submits + 1))


def test_event_ids_are_unique():
    """No two events share an event_id."""
    with capture_events() as events:
        pipeline = ExecutionPipeline(PaperExecutor(), events, gates=[RecordingGate("G")])
        for _ in range(25):
            pipeline.submit_order(intent())
    ids = [e.event_id for e in events]
    assert len(ids) == 150
    assert len(set(ids)) == len(ids)


def test_timestamps_are_timezone_aware_utc():
    """ts is an aware datetime with zero UTC offset, so it serialises with +00:00."""
    with capture_events() as events:
        ExecutionPipeline(PaperExecutor(), events).submit_order(intent())
    for event in events:
        assert event.ts.tzinfo is not None
        assert event.ts.utcoffset() == timedelta(0)
        assert event.to_dict()["ts"].endswith("+00:00")


def test_mono_ns_never_decreases():
    """mono_ns is an int on every event and never goes backwards in emission order."""
    with capture_events() as events:
        pipeline = ExecutionPipeline(PaperExecutor(), events, gates=[RecordingGate("G")])
        for session in ["a", "b"] * 10:
            pipeline.submit_order(intent(session_id=session))
    stamps = [e.mono_ns for e in events]
    assert all(isinstance(s, int) for s in stamps)
    assert stamps == sorted(stamps)


# -- the emitter ------------------------------------------------------------------------


def test_pipeline_keeps_the_emitter_it_was_given():
    """``pipeline._emitter`` is the very object passed in (the spec's troubleshooting checks it)."""
    emitter = InMemoryEmitter()
    assert ExecutionPipeline(PaperExecutor(), emitter=emitter)._emitter is emitter


def test_pipeline_without_emitter_still_trades():
    """With no emitter ``_emitter`` is None and orders fill normally."""
    pipeline = ExecutionPipeline(PaperExecutor(slippage_bps=0, fee_bps=0))
    assert pipeline._emitter is None
    result = pipeline.submit_order(intent())
    assert result.status == "filled"
    assert result.fill.fill_price == 100_000.0
    assert pipeline.telemetry_errors == 0


def test_raising_foreign_sink_never_hurts_trading(caplog):
    """A non-base sink that raises: orders fill, failures are counted, one warning is logged."""
    caplog.set_level(logging.WARNING, logger="src.execution.pipeline")
    sink = BrokenSink()
    pipeline = ExecutionPipeline(PaperExecutor(), sink, gates=[RecordingGate("G")])
    results = [pipeline.submit_order(intent()) for _ in range(5)]
    assert [r.status for r in results] == ["filled"] * 5
    assert sink.calls == 5 * 6
    assert pipeline.telemetry_errors == 5 * 6
    warnings = [r for r in caplog.records if r.name == "src.execution.pipeline"]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "No space left on device" in warnings[0].getMessage()


def test_failing_base_class_sink_is_guarded_by_the_base():
    """A subclass defining only emit() that raises is caught by the base guard, not the pipeline."""

    class Flaky(ExecutionEventEmitter):
        def emit(self, event: ExecutionEvent) -> None:
            raise ConnectionError("metrics endpoint gone")

    sink = Flaky()
    pipeline = ExecutionPipeline(PaperExecutor(), sink)
    assert pipeline.submit_order(intent()).status == "filled"
    assert sink.stats.errors == 5
    assert pipeline.telemetry_errors == 0


# -- resting limit orders ---------------------------------------------------------------


def test_resting_limit_order_is_open_then_filled_by_a_crossing_price():
    """A resting limit gives status "open"; a later crossing price emits its fill in its session."""
    with capture_events() as events:
        pipeline = ExecutionPipeline(PaperExecutor(), events)
        pipeline.update_price("BTC-USD", 100_000.0)
        result = pipeline.submit_order(
            intent(order_type="limit", limit_price=99_000.0, session_id="s-lim")
        )
        assert result.status == "open"
        assert result.fill is None
        assert events.kinds() == ["intent", "gate", "order", "ack"]

        assert pipeline.update_price("BTC-USD", 99_500.0) == []  # above the limit
        assert pipeline.update_price("ETH-USD", 1.0) == []  # another symbol
        assert events.kinds() == ["intent", "gate", "order", "ack"]

        fills = pipeline.update_price("BTC-USD", 98_900.0)
        assert len(fills) == 1
        assert pipeline.update_price("BTC-USD", 98_000.0) == []  # filled only once
    assert events.kinds() == ["intent", "gate", "order", "ack", "fill"]
    order_event, fill_event = by_kind(events, "order")[0], by_kind(events, "fill")[0]
    assert fill_event.session_id == "s-lim"
    assert fill_event.symbol == "BTC-USD"
    assert fill_event.payload["client_id"] == result.order.client_id
    assert fill_event.payload["client_id"] == order_event.payload["client_id"]
    assert fill_event.payload["intent_id"] == result.intent.intent_id
    assert fill_event.payload["fill_price"] <= 99_000.0
    assert fill_event.seq == order_event.seq + 2  # after the ack


def test_limit_orders_of_two_sessions_fill_into_their_own_sessions():
    """One price update filling orders of two sessions emits each fill in its own session."""
    with capture_events() as events:
        pipeline = ExecutionPipeline(PaperExecutor(), events)
        pipeline.update_price("BTC-USD", 100_000.0)
        a = pipeline.submit_order(
            intent(order_type="limit", limit_price=99_000.0, session_id="alpha")
        )
        b = pipeline.submit_order(
            intent(order_type="limit", limit_price=99_500.0, session_id="beta")
        )
        pipeline.update_price("BTC-USD", 98_000.0)
    fills = {e.payload["client_id"]: e for e in by_kind(events, "fill")}
    assert fills[a.order.client_id].session_id == "alpha"
    assert fills[b.order.client_id].session_id == "beta"
    assert fills[a.order.client_id].seq == 5  # intent, validation gate, order, ack, fill
    assert fills[b.order.client_id].seq == 5


# -- construction -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["prod", "PAPER", ""])
def test_invalid_mode_is_rejected(mode):
    """Only backtest, paper and live are modes; anything else fails naming the value."""
    with pytest.raises(ValueError, match=f"invalid mode {mode!r}"):
        ExecutionPipeline(PaperExecutor(), mode=mode)


@pytest.mark.parametrize("mode", ["backtest", "paper", "live"])
def test_valid_modes_are_stamped_on_events(mode):
    """The pipeline's mode is the ``mode`` of every event it emits."""
    with capture_events() as events:
        ExecutionPipeline(PaperExecutor(), events, mode=mode).submit_order(intent())
    assert {e.mode for e in events} == {mode}


def test_strict_emitter_failures_are_loud_through_the_pipeline():
    """An emitter built with strict=True makes the pipeline re-raise its failure (for tests)."""

    class Broken(ExecutionEventEmitter):
        def emit(self, event):
            raise RuntimeError("loud in tests")

    pipeline = ExecutionPipeline(executor=PaperExecutor(), emitter=Broken(strict=True))
    intent = OrderIntent(symbol="BTC-USD", side="buy", quantity=1.0, current_price=100.0)
    with pytest.raises(RuntimeError, match="loud in tests"):
        pipeline.submit_order(intent)
