"""The execution pipeline: intent -> gates -> order -> fill, with telemetry at each step.

``submit_order`` emits ``intent``, one ``gate`` event per gate evaluated, then ``order`` and
``fill`` (or ``error`` when the executor fails). A blocking gate stops the intent: no order
is created and the result names the gate and its reason. The first gate is always
:class:`~src.execution.gates.IntentValidationGate` (added to whatever gates are given, also
to none): a malformed intent is blocked there with a reason, never raised to the caller,
and every intent gets at least one gate decision.

Telemetry never hurts trading: building or emitting an event is guarded, failures are
counted in :attr:`ExecutionPipeline.telemetry_errors` and logged (rate-limited), and the
order goes on (unless the emitter was built with ``strict=True``, for tests). Each event
carries a wall-clock UTC ``ts`` for display and a monotonic ``mono_ns`` for latencies, so a
clock step never produces a negative interval.

``seq`` counts per session within one pipeline object: a restarted process, or several
processes sharing a session, start their own count. Readers order by file position and use
``event_id`` (whose middle part names the producing process) to tell producers apart.
"""

from __future__ import annotations

import itertools
import logging
import time
import traceback
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from src.execution.events import MODES, ExecutionEvent
from src.execution.gates import Gate, IntentValidationGate
from src.execution.ids import new_id
from src.execution.jsontypes import JsonObject, Payload
from src.execution.market import MarketState
from src.execution.models import ExecutionResult, Fill, GateDecision, Order, OrderIntent

if TYPE_CHECKING:
    from src.execution.telemetry.base import Emitter

__all__ = ["ExecutionPipeline", "Executor", "IntentId"]

#: An intent id as logged: a malformed intent's id is kept if it is a plain scalar.
IntentId = str | int | float | None


class Executor(Protocol):
    """What the pipeline needs of an executor (:class:`~src.execution.paper.PaperExecutor`
    is one): fill ``order`` at ``market_price`` and return the fill, or ``None`` when the
    order rests (a limit not yet crossed). Raising is allowed: the pipeline logs an ``error``
    event and returns an ``error`` result.

    An executor that rests orders may also define ``on_price(symbol, price) -> list[Fill]``;
    :meth:`ExecutionPipeline.update_price` calls it when present.
    """

    def execute(self, order: Order, market_price: float | None) -> Fill | None: ...


log = logging.getLogger("src.execution.pipeline")
_MAX_STACKTRACE = 8_000
_REPORT_INTERVAL_S = 60.0


class ExecutionPipeline:
    """Run intents through gates and an executor, emitting telemetry events."""

    def __init__(
        self,
        executor: Executor,
        emitter: Emitter | None = None,
        gates: Iterable[Gate] | None = (),
        mode: str = "paper",
        *,
        market: MarketState | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"invalid mode {mode!r}: expected one of {', '.join(MODES)}")
        self._executor = executor
        self._emitter = emitter
        given = tuple(g for g in gates or () if type(g) is not IntentValidationGate)
        self._gates: tuple[Gate, ...] = (IntentValidationGate(), *given)
        self.mode = mode
        self.market = market if market is not None else MarketState()
        self.telemetry_errors = 0
        self._seq: dict[str, itertools.count[int]] = {}
        self._resting: dict[str, Order] = {}
        # -inf, not 0.0: monotonic() may be < 60 s after boot, which would mute the first report.
        self._last_report = float("-inf")

    @property
    def gates(self) -> tuple[Gate, ...]:
        """Every gate an intent passes, in order: intent validation first."""
        return self._gates

    # -- market data ---------------------------------------------------------------------
    def update_price(self, symbol: str, price: float) -> list[Fill]:
        """Record a market price; resting paper limit orders it crosses fill (and are emitted)."""
        self.market.update(symbol, price)
        on_price: Callable[[str, float], list[Fill]] | None = getattr(
            self._executor, "on_price", None
        )
        if on_price is None or not self._resting:
            return []
        fills = on_price(symbol, price)
        for fill in fills:
            order = self._resting.pop(fill.client_id, None)
            session_id = order.session_id if order is not None else "default"
            self._emit("fill", session_id, fill.symbol, _fill_payload(fill))
        return fills

    # -- the order path ------------------------------------------------------------------
    def submit_order(self, intent: OrderIntent) -> ExecutionResult:
        iid: IntentId
        if intent.__class__ is OrderIntent and intent.problem is None:
            sid, symbol, iid = intent.session_id, intent.symbol, intent.intent_id
        else:
            sid, symbol, iid = _names(intent)  # whatever it holds, it is still logged
        self._emit(
            "intent",
            sid,
            symbol,
            {
                "intent_id": iid,
                "side": _field(intent, "side"),
                "quantity": _field(intent, "quantity"),
                "current_price": _field(intent, "current_price"),
                "strategy_key": _field(intent, "strategy_key"),
                "order_type": _field(intent, "order_type"),
                "limit_price": _field(intent, "limit_price"),
            },
        )
        decisions: list[tuple[str, GateDecision]] = []
        for gate in self._gates:
            name = getattr(gate, "name", type(gate).__name__)
            decision = self._check_gate(gate, name, intent, sid, symbol, iid)
            decisions.append((name, decision))
            self._emit(
                "gate",
                sid,
                symbol,
                {
                    "intent_id": iid,
                    "gate_name": name,
                    "passed": decision.passed,
                    "reason": decision.reason,
                },
            )
            if not decision.passed:
                return ExecutionResult(
                    status="blocked",
                    intent=intent,
                    blocked_by=name,
                    reason=decision.reason,
                    gate_decisions=tuple(decisions),
                )

        order = Order(
            client_id=new_id("ord"),
            intent_id=intent.intent_id,
            session_id=sid,
            symbol=symbol,
            side=intent.side,
            quantity=intent.quantity,
            order_type=intent.order_type,
            limit_price=intent.limit_price,
        )
        self._emit(
            "order",
            sid,
            symbol,
            {
                "client_id": order.client_id,
                "intent_id": order.intent_id,
                "side": order.side,
                "quantity": order.quantity,
                "order_type": order.order_type,
                "limit_price": order.limit_price,
            },
        )
        market_price = self.market.last_price(symbol) or intent.current_price
        try:
            fill = self._executor.execute(order, market_price)
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            self._emit(
                "error",
                sid,
                symbol,
                {
                    "error": message,
                    "stacktrace": traceback.format_exc()[-_MAX_STACKTRACE:],
                    "client_id": order.client_id,
                    "intent_id": order.intent_id,
                    "stage": "execute",
                },
            )
            return ExecutionResult(
                status="error",
                intent=intent,
                order=order,
                error=message,
                gate_decisions=tuple(decisions),
            )
        if fill is None:
            self._resting[order.client_id] = order
            return ExecutionResult(
                status="open", intent=intent, order=order, gate_decisions=tuple(decisions)
            )
        self._emit("fill", sid, symbol, _fill_payload(fill))
        return ExecutionResult(
            status="filled",
            intent=intent,
            order=order,
            fill=fill,
            gate_decisions=tuple(decisions),
        )

    def _check_gate(
        self, gate: Gate, name: str, intent: OrderIntent, sid: str, symbol: str, iid: IntentId
    ) -> GateDecision:
        # A gate that crashes blocks (fails closed) and leaves an error event behind.
        try:
            decision: object = gate.check(intent, self.market)
            if not isinstance(decision, GateDecision):
                raise TypeError(f"gate returned {decision!r}, not a GateDecision")
            return decision
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            self._emit(
                "error",
                sid,
                symbol,
                {
                    "error": f"gate {name} failed: {message}",
                    "stacktrace": traceback.format_exc()[-_MAX_STACKTRACE:],
                    "intent_id": iid,
                    "stage": "gate",
                },
            )
            return GateDecision(False, f"gate error: {message}")

    # -- telemetry -----------------------------------------------------------------------
    def _emit(self, kind: str, session_id: str, symbol: str, payload: Payload) -> None:
        emitter = self._emitter
        if emitter is None:
            return
        try:
            counter = self._seq.get(session_id)
            if counter is None:
                counter = self._seq.setdefault(session_id, itertools.count(1))
            emitter.emit(
                ExecutionEvent(
                    ts=datetime.now(UTC),
                    session_id=session_id,
                    symbol=symbol,
                    mode=self.mode,
                    kind=kind,
                    payload=payload,
                    seq=next(counter),
                    mono_ns=time.monotonic_ns(),
                )
            )
        except Exception as exc:
            self.telemetry_errors += 1
            if getattr(emitter, "strict", False) is True:
                raise  # a test asked for loud telemetry failures
            now = time.monotonic()
            if now - self._last_report >= _REPORT_INTERVAL_S:
                self._last_report = now
                log.warning(
                    "telemetry failed (%d so far), trading continues: %s: %s",
                    self.telemetry_errors,
                    type(exc).__name__,
                    exc,
                )


def _names(intent: object) -> tuple[str, str, IntentId]:
    """Session, symbol and intent id to log a malformed intent under (text, never raising)."""
    sid = _field(intent, "session_id", "default")
    symbol = _field(intent, "symbol", "")
    iid = _field(intent, "intent_id")
    return (
        sid if isinstance(sid, str) else repr(sid),
        symbol if isinstance(symbol, str) else repr(symbol),
        iid if iid is None or isinstance(iid, (str, int, float)) else repr(iid),
    )


def _field(intent: object, name: str, default: object = None) -> object:
    """An attribute of something passed as an intent, or ``default`` whatever reading it raises."""
    try:
        return getattr(intent, name, default)
    except Exception:
        return default


def _fill_payload(fill: Fill) -> JsonObject:
    return {
        "client_id": fill.client_id,
        "intent_id": fill.intent_id,
        "side": fill.side,
        "filled_quantity": fill.filled_quantity,
        "fill_price": fill.fill_price,
        "fill_notional": fill.notional,
        "fill_fee": fill.fee,
        "reference_price": fill.reference_price,
    }
