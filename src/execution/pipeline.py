"""The execution pipeline: intent -> gates -> order -> the order's life, with telemetry.

``submit_order`` emits ``intent``, one ``gate`` event per gate evaluated, then ``order`` and
what the venue reports: ``ack``, ``partial_fill`` for each piece that leaves part of the
order working, one ``fill`` with the whole order's totals when it is complete, or
``reject``; ``error`` when the executor fails. A blocking gate stops the intent: no order
is created and the result names the gate and its reason. The first gate is always
:class:`~src.execution.gates.IntentValidationGate` (added to whatever gates are given, also
to none): a malformed intent is blocked there with a reason, never raised to the caller,
and every intent gets at least one gate decision.

The pipeline owns the state of every working order (one place): cumulative quantity,
notional and fees, the venue's order id, and when its time in force runs out. An order
ends as ``fill``, ``cancel`` (:meth:`ExecutionPipeline.cancel_order`), ``expire`` (an IOC
order's remainder at once; ``DAY`` at the end of the UTC day it was placed;
``expire_after_s`` after placing; checked on :meth:`~ExecutionPipeline.update_price` and by
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

import heapq
import itertools
import logging
import threading
import time
import traceback
from collections import OrderedDict
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
    Ack,
    ExecutionReport,
    ExecutionResult,
    Fill,
    GateDecision,
    Order,
    OrderIntent,
    Reject,
    Status,
)
from src.execution.working import Ended, Working, order_deadline

if TYPE_CHECKING:
    from src.execution.telemetry.base import Emitter

__all__ = ["ExecutionPipeline", "Executor", "IntentId", "LifecycleExecutor"]

#: An intent id as logged: a malformed intent's id is kept if it is a plain scalar.
IntentId = str | int | float | None


log = logging.getLogger("src.execution.pipeline")
_MAX_STACKTRACE = 8_000
_REPORT_INTERVAL_S = 60.0
# A remainder this small (relative to the order) is float noise: the order is complete.
_DONE = 1e-9
_ENDED_KEPT = 10_000  # recently ended orders remembered, to place a late report's error


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
        on_price = getattr(executor, "on_price", None)
        self._on_price: Callable[[str, float], Sequence[Fill]] | None = (
            on_price if callable(on_price) else None
        )
        cancel = getattr(executor, "cancel", None)
        self._cancel: Callable[[str], object] | None = cancel if callable(cancel) else None
        self._orders: dict[str, Working] = {}
        self._deadlines: list[tuple[float, str]] = []  # a heap; ended orders are skipped
        # client_id -> (session, status) of recently ended orders (OrderedDict: dropping the
        # oldest is O(1); a plain dict's first key is found by scanning past deleted slots)
        self._ended: OrderedDict[str, tuple[str, Ended]] = OrderedDict()
        self._lock = threading.RLock()
        self._clock: Callable[[], float] = clock if clock is not None else time.time
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
        if not self._orders:
            return []
        with self._lock:
            applied: list[Fill] = []
            on_price = self._on_price
            if on_price is not None and self._orders:
                try:
                    pieces = list(on_price(symbol, price))
                except Exception as exc:
                    sessions = {w.order.session_id for w in self._orders.values()}
                    for sid in sorted(sessions):
                        self._executor_error("on_price", exc, sid, symbol)
                    pieces = []
                for piece in pieces:
                    if self._apply_report(piece):
                        applied.append(piece)
            if self._deadlines:
                self._expire_due(self._clock())
            return applied

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
        with self._lock:
            placed = self._clock()
            deadline = (
                None
                if order.expire_after_s is None and order.time_in_force != "DAY"
                else order_deadline(order, placed)
            )
            working = Working(order, placed, deadline)
            self._orders[order.client_id] = working
            try:
                reports = self._send(order, market_price)
            except Exception as exc:
                self._orders.pop(order.client_id, None)
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
            for report in reports:
                self._apply_report(report)
            ended = working.ended
            status: Status = "open" if ended is None or ended == "cancelled" else ended
            if ended is None:
                if order.time_in_force == "IOC":
                    self._expire(working, "IOC: the unfilled remainder expires at once")
                    status = "expired"
                elif working.deadline is not None:
                    heapq.heappush(self._deadlines, (working.deadline, order.client_id))
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
        with self._lock:
            try:
                working = self._orders.get(client_id)
            except TypeError:  # an unhashable "id"
                return False
            if working is None:
                return False
            if self._cancel is not None:
                try:
                    done = self._cancel(client_id)
                except Exception as exc:
                    self._executor_error("cancel", exc, working.order.session_id, working.order)
                    return False
                if done is False:
                    return False
            self._end(working, "cancel", "cancelled", str(reason))
            return True

    def expire_orders(self, now: datetime | None = None) -> list[str]:
        """Expire the working orders whose time in force has run out by ``now`` (default: the
        pipeline's clock; a naive value is UTC), emitting an ``expire`` event for each; returns
        their client ids. A host calls this periodically (``update_price`` does it too)."""
        if now is None:
            at = self._clock()
        else:
            at = (now if now.tzinfo is not None else now.replace(tzinfo=UTC)).timestamp()
        with self._lock:
            return self._expire_due(at)

    @property
    def working_orders(self) -> list[Order]:
        """The orders working now (sent, not filled, cancelled, expired or rejected)."""
        with self._lock:
            return [w.order for w in self._orders.values()]

    # -- the order's life (under the lock) -----------------------------------------------
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

    def _apply_report(self, report: object) -> bool:
        """Apply one venue report to its order; ``False`` when it could not be (an ``error``
        event, stage ``report``, says why)."""
        try:
            return self._apply(report)
        except Exception as exc:  # a malformed report (odd numbers, a hostile object)
            self._emit(
                "error",
                "default",
                "",
                {
                    "error": f"a report could not be applied: {type(exc).__name__}: {exc}",
                    "stacktrace": traceback.format_exc()[-_MAX_STACKTRACE:],
                    "stage": "report",
                },
            )
            return False

    def _apply(self, report: object) -> bool:
        if not isinstance(report, (Ack, Reject, Fill)):
            self._stray(report, None)
            return False
        client_id = report.client_id
        working = self._orders.get(client_id) if isinstance(client_id, str) else None
        if working is None:
            self._stray(report, client_id)
            return False
        order = working.order
        if isinstance(report, Ack):
            working.order_id = report.order_id
            self._emit(
                "ack",
                order.session_id,
                order.symbol,
                {
                    "client_id": order.client_id,
                    "intent_id": order.intent_id,
                    "side": order.side,
                    "order_id": report.order_id,
                },
            )
        elif isinstance(report, Reject):
            self._end(working, "reject", "rejected", report.reason)
        else:
            self._add_piece(working, report)
        return True

    def _add_piece(self, working: Working, piece: Fill) -> None:
        order = working.order
        working.filled += piece.filled_quantity
        working.notional += piece.notional
        working.fees += piece.fee
        if piece.reference_price is None:
            working.ref_missing = True
        else:
            working.ref_weighted += piece.filled_quantity * piece.reference_price
        working.pieces += 1
        remaining = order.quantity - working.filled
        if remaining > order.quantity * _DONE:
            payload: JsonObject = {
                "client_id": order.client_id,
                "intent_id": order.intent_id,
                "side": order.side,
                "filled_quantity": piece.filled_quantity,
                "fill_price": piece.fill_price,
                "fill_notional": piece.notional,
                "fill_fee": piece.fee,
                "reference_price": piece.reference_price,
                "cumulative_quantity": working.filled,
                "remaining_quantity": remaining,
            }
            if working.order_id is not None:
                payload["order_id"] = working.order_id
            self._emit("partial_fill", order.session_id, order.symbol, payload)
            return
        if working.pieces == 1:
            whole, notional = piece, piece.notional
        else:
            whole = Fill(
                client_id=order.client_id,
                intent_id=order.intent_id,
                symbol=order.symbol,
                side=order.side,
                filled_quantity=working.filled,
                fill_price=working.notional / working.filled,
                fee=working.fees,
                reference_price=None
                if working.ref_missing
                else working.ref_weighted / working.filled,
            )
            notional = working.notional
        working.whole = whole
        self._finish(working, "filled")
        self._emit(
            "fill", order.session_id, order.symbol, _fill_payload(whole, notional, working.order_id)
        )

    def _expire(self, working: Working, reason: str) -> None:
        if self._cancel is not None:  # the venue stops working it too (best effort)
            try:
                self._cancel(working.order.client_id)
            except Exception as exc:
                self._executor_error("expire", exc, working.order.session_id, working.order)
        self._end(working, "expire", "expired", reason)

    def _expire_due(self, now: float) -> list[str]:
        expired: list[str] = []
        heap = self._deadlines
        while heap and heap[0][0] <= now:
            _, client_id = heapq.heappop(heap)
            working = self._orders.get(client_id)
            if working is None:
                continue  # it ended some other way
            order = working.order
            if order.expire_after_s is not None and working.deadline == (
                working.placed + order.expire_after_s
            ):
                reason = f"expire_after_s: {order.expire_after_s:g} s after it was placed"
            else:
                reason = "DAY: the UTC day it was placed ended"
            self._expire(working, reason)
            expired.append(client_id)
        return expired

    def _end(self, working: Working, kind: str, status: Ended, reason: str) -> None:
        """End ``working`` with a ``cancel``, ``expire`` or ``reject`` event."""
        order = working.order
        working.reason = reason
        self._finish(working, status)
        payload: JsonObject = {
            "client_id": order.client_id,
            "intent_id": order.intent_id,
            "side": order.side,
            "reason": reason,
        }
        if kind == "expire":
            payload["time_in_force"] = order.time_in_force
        if kind != "reject":
            payload["filled_quantity"] = working.filled
            payload["remaining_quantity"] = working.remaining
        if working.order_id is not None:
            payload["order_id"] = working.order_id
        self._emit(kind, order.session_id, order.symbol, payload)

    def _finish(self, working: Working, status: Ended) -> None:
        client_id = working.order.client_id
        working.ended = status
        self._orders.pop(client_id, None)
        ended = self._ended
        ended[client_id] = (working.order.session_id, status)
        if len(ended) > _ENDED_KEPT:
            ended.popitem(last=False)

    def _stray(self, report: object, client_id: object) -> None:
        """A report for no working order (a fill after a cancel, an unknown id, something
        that is not a report): an ``error`` event (stage ``report``), in the order's session
        when it ended recently, else in ``default``."""
        known = self._ended.get(client_id) if isinstance(client_id, str) else None
        sid, state = known if known is not None else ("default", "not known here")
        if isinstance(report, Fill):
            what = f"a fill of {report.filled_quantity:g} @ {report.fill_price:g}"
        else:
            what = _shown(report)
        self._emit(
            "error",
            sid,
            report.symbol if isinstance(report, Fill) else "",
            {
                "error": f"{what} for order {client_id!r} ({state}) was not applied",
                "client_id": client_id if isinstance(client_id, str) else None,
                "stage": "report",
            },
        )

    def _executor_error(self, stage: str, exc: Exception, sid: str, where: Order | str) -> None:
        order = where if isinstance(where, Order) else None
        self._emit(
            "error",
            sid,
            order.symbol if order is not None else str(where),
            {
                "error": f"executor {stage} failed: {type(exc).__name__}: {exc}",
                "stacktrace": traceback.format_exc()[-_MAX_STACKTRACE:],
                "client_id": order.client_id if order is not None else None,
                "intent_id": order.intent_id if order is not None else None,
                "stage": stage,
            },
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


def _fill_payload(fill: Fill, notional: float, order_id: str | None) -> JsonObject:
    payload: JsonObject = {
        "client_id": fill.client_id,
        "intent_id": fill.intent_id,
        "side": fill.side,
        "filled_quantity": fill.filled_quantity,
        "fill_price": fill.fill_price,
        "fill_notional": notional,
        "fill_fee": fill.fee,
        "reference_price": fill.reference_price,
    }
    if order_id is not None:
        payload["order_id"] = order_id
    return payload


def _shown(value: object) -> str:
    try:
        shown = repr(value)
    except Exception:  # a hostile __repr__ must not break the report
        shown = f"<{type(value).__name__}>"
    return shown if len(shown) <= 200 else shown[:197] + "..."
