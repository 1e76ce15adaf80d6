"""The execution pipeline: intent -> gates -> order -> the order's life, with telemetry.

``submit_order`` emits ``intent``, one ``gate`` event per gate evaluated, then ``order`` and
what the venue reports: ``ack``, ``partial_fill`` for each piece that leaves part of the
order working, one ``fill`` with the whole order's totals when it is complete, or
``reject``; ``error`` when the executor fails. A blocking gate stops the intent: no order
is created and the result names the gate and its reason. The first gate is always
:class:`~src.execution.gates.IntentValidationGate` (added to whatever gates are given, also
to none): a malformed intent is blocked there with a reason, never raised to the caller,
and every intent gets at least one gate decision.

Once sent, an order belongs to the pipeline's :class:`~src.execution.tracker.OrderTracker`
(one place for every working order's state and life). An order ends as ``fill``,
``cancel`` (:meth:`ExecutionPipeline.cancel_order`), ``expire`` (an IOC order's remainder
at once; ``DAY`` at the end of the UTC day it was placed; ``expire_after_s`` after placing;
checked on :meth:`~ExecutionPipeline.update_price` and by
:meth:`~ExecutionPipeline.expire_orders`), ``reject`` or an execute-stage ``error``.

Executors come in two shapes (both ``Protocol``s): the original :class:`Executor`
(``execute(order, price) -> Fill | None``; each fill is a piece, ``None`` means the order
works on) and :class:`LifecycleExecutor`, a venue that reports acks, rejects and pieces
(``submit``, ``on_price``, ``cancel``). :class:`~src.execution.paper.PaperExecutor` is both;
the pipeline uses ``submit`` when an executor has it.

Telemetry never hurts trading: building or emitting an event is guarded, failures are
counted in :attr:`ExecutionPipeline.telemetry_errors` and logged (rate-limited), and the
order goes on (unless the emitter was built with ``strict=True``, for tests). An executor
that raises in ``on_price`` or ``cancel`` leaves an ``error`` event, never an exception.
Each event carries a wall-clock UTC ``ts`` for display and a monotonic ``mono_ns`` for
latencies, so a clock step never produces a negative interval.

``seq`` counts per session within one pipeline object: a restarted process, or several
processes sharing a session, start their own count. Readers order by file position and use
``event_id`` (whose middle part names the producing process) to tell producers apart.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from src.execution.events import MODES, ExecutionEvent
from src.execution.executor import Executor, LifecycleExecutor
from src.execution.gates import Gate, IntentValidationGate
from src.execution.ids import new_id
from src.execution.jsontypes import JsonObject, Payload
from src.execution.market import MarketState
from src.execution.models import (
    ExecutionReport,
    ExecutionResult,
    Fill,
    GateDecision,
    Order,
    OrderIntent,
    Status,
)
from src.execution.tracker import OrderTracker, stacktrace

if TYPE_CHECKING:
    from src.execution.telemetry.base import Emitter

__all__ = ["ExecutionPipeline", "Executor", "IntentId", "LifecycleExecutor"]

#: An intent id as logged: a malformed intent's id is kept if it is a plain scalar.
IntentId = str | int | float | None


log = logging.getLogger("src.execution.pipeline")
_REPORT_INTERVAL_S = 60.0


class ExecutionPipeline:
    """Run intents through gates and an executor, emitting telemetry events."""

    def __init__(
        self,
        executor: Executor | LifecycleExecutor,
        emitter: Emitter | None = None,
        gates: Iterable[Gate] | None = (),
        mode: str = "paper",
        *,
        market: MarketState | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """``clock`` (POSIX seconds; default ``time.time``) is when orders are placed and
        expire: a simulation passes its own, so its orders expire on simulated time."""
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
        submit = getattr(executor, "submit", None)
        self._submit: Callable[[Order, float | None], Sequence[ExecutionReport]] | None = (
            submit if callable(submit) else None
        )
        self._clock: Callable[[], float] = clock if clock is not None else time.time
        self._orders = OrderTracker(executor, self._emit, self._clock)
        # -inf, not 0.0: monotonic() may be < 60 s after boot, which would mute the first report.
        self._last_report = float("-inf")

    @property
    def gates(self) -> tuple[Gate, ...]:
        """Every gate an intent passes, in order: intent validation first."""
        return self._gates

    # -- market data ---------------------------------------------------------------------
    def update_price(self, symbol: str, price: float) -> list[Fill]:
        """Record a market price. Working orders it crosses fill (their events are emitted;
        the pieces are returned) and orders whose time in force ran out expire."""
        self.market.update(symbol, price)
        return self._orders.on_price(symbol, price)

    # -- the order path ------------------------------------------------------------------
    def submit_order(self, intent: OrderIntent) -> ExecutionResult:
        iid: IntentId
        payload: JsonObject
        if intent.__class__ is OrderIntent and intent.problem is None:
            sid, symbol, iid = intent.session_id, intent.symbol, intent.intent_id
            payload = {  # a checked intent: its attributes are there, plain reads suffice
                "intent_id": iid,
                "side": intent.side,
                "quantity": intent.quantity,
                "current_price": intent.current_price,
                "strategy_key": intent.strategy_key,
                "order_type": intent.order_type,
                "limit_price": intent.limit_price,
                "time_in_force": intent.time_in_force,
                "expire_after_s": intent.expire_after_s,
            }
        else:
            sid, symbol, iid = _names(intent)  # whatever it holds, it is still logged
            payload = {
                "intent_id": iid,
                "side": _field(intent, "side"),
                "quantity": _field(intent, "quantity"),
                "current_price": _field(intent, "current_price"),
                "strategy_key": _field(intent, "strategy_key"),
                "order_type": _field(intent, "order_type"),
                "limit_price": _field(intent, "limit_price"),
                "time_in_force": _field(intent, "time_in_force"),
                "expire_after_s": _field(intent, "expire_after_s"),
            }
        self._emit("intent", sid, symbol, payload)
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
            time_in_force=intent.time_in_force,
            expire_after_s=intent.expire_after_s,
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
                "time_in_force": order.time_in_force,
                "expire_after_s": order.expire_after_s,
            },
        )
        market_price = self.market.last_price(symbol) or intent.current_price
        working = self._orders.place(order, lambda: self._send(order, market_price))
        if working.error is not None:  # the executor raised: the tracker logged an error event
            return ExecutionResult(
                status="error",
                intent=intent,
                order=order,
                error=working.error,
                gate_decisions=tuple(decisions),
            )
        ended = working.ended  # an IOC remainder has expired; an order cancelled meanwhile is open
        status: Status = "open" if ended is None or ended == "cancelled" else ended
        return ExecutionResult(
            status=status,
            intent=intent,
            order=order,
            fill=working.whole,
            reason=working.reason,
            gate_decisions=tuple(decisions),
            order_id=working.order_id,
            filled_quantity=working.filled,
        )

    def cancel_order(self, client_id: str, reason: str = "requested") -> bool:
        """Cancel a working order: the venue is asked first (``executor.cancel``), then a
        ``cancel`` event says what had filled and what never will. ``False`` (and no event)
        for an order that is not working here (unknown, filled, cancelled, expired,
        rejected) or that the venue would not cancel; an executor that raises leaves an
        ``error`` event (stage ``cancel``) and gives ``False``. Never raises."""
        return self._orders.cancel(client_id, str(reason))

    def expire_orders(self, now: datetime | None = None) -> list[str]:
        """Expire the working orders whose time in force has run out by ``now`` (default: the
        pipeline's clock; a naive value is UTC), emitting an ``expire`` event for each; returns
        their client ids. A host calls this periodically (``update_price`` does it too)."""
        if now is None:
            at = self._clock()
        else:
            at = (now if now.tzinfo is not None else now.replace(tzinfo=UTC)).timestamp()
        return self._orders.expire_due(at)

    @property
    def working_orders(self) -> list[Order]:
        """The orders working now (sent, not filled, cancelled, expired or rejected)."""
        return self._orders.working

    def _send(self, order: Order, market_price: float | None) -> Sequence[ExecutionReport]:
        if self._submit is not None:
            return list(self._submit(order, market_price))
        execute: Callable[[Order, float | None], Fill | None] | None = getattr(
            self._executor, "execute", None
        )
        if execute is None:
            raise TypeError(f"{type(self._executor).__name__} has neither submit() nor execute()")
        fill = execute(order, market_price)
        return () if fill is None else (fill,)

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
                    "stacktrace": stacktrace(),
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

