"""The orders the pipeline placed, from placing to their end, with the events of their life.

:class:`OrderTracker` owns the state of every working order (one place): cumulative
quantity, notional and fees, the venue's order id, and when its time in force runs out. It
applies what the venue reports (``ack``; ``partial_fill`` for each piece that leaves part of
the order working; one ``fill`` with the whole order's totals when it is complete;
``reject``) and ends orders by ``cancel`` or ``expire`` (an IOC order's remainder at once;
``DAY`` at the end of the UTC day it was placed; ``expire_after_s`` after placing). A
report for no working order (a fill after a cancel, an unknown id, something that is not a
report) and an executor that raises in ``on_price`` or ``cancel`` leave an ``error`` event,
never an exception.

The tracker emits through the function it is given (the pipeline's guarded ``_emit``), so
telemetry failures stay the pipeline's concern. Every method takes the tracker's lock.
"""

from __future__ import annotations

import heapq
import threading
import traceback
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TypeAlias

from src.execution.jsontypes import JsonObject, Payload
from src.execution.models import Ack, ExecutionReport, Fill, Order, Reject
from src.execution.working import Ended, Working, order_deadline

__all__ = ["Emit", "OrderTracker", "stacktrace"]

#: How the tracker emits an event: ``emit(kind, session_id, symbol, payload)``; never raises.
Emit: TypeAlias = Callable[[str, str, str, Payload], None]

_MAX_STACKTRACE = 8_000
# A remainder this small (relative to the order) is float noise: the order is complete.
_DONE = 1e-9
_ENDED_KEPT = 10_000  # recently ended orders remembered, to place a late report's error


def stacktrace() -> str:
    """The exception being handled, formatted for an ``error`` event (its last 8000 chars)."""
    return traceback.format_exc()[-_MAX_STACKTRACE:]


class OrderTracker:
    """The working orders of one pipeline and the events of their life."""

    def __init__(self, executor: object, emit: Emit, clock: Callable[[], float]) -> None:
        """``executor``'s optional ``on_price(symbol, price)`` and ``cancel(client_id)`` are
        used when it has them; ``clock`` (POSIX seconds) is when orders are placed and
        expire."""
        self._emit = emit
        self._clock = clock
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

    @property
    def working(self) -> list[Order]:
        """The orders working now (sent, not filled, cancelled, expired or rejected)."""
        with self._lock:
            return [w.order for w in self._orders.values()]

    def place(self, order: Order, send: Callable[[], Sequence[ExecutionReport]]) -> Working:
        """Track ``order`` and ``send`` it; apply the reports ``send`` returns. An IOC order
        that is still working then expires at once. When ``send`` raises, the order is
        forgotten, an ``error`` event (stage ``execute``) is emitted and the returned state's
        ``error`` says what happened."""
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
                reports = send()
            except Exception as exc:
                self._orders.pop(order.client_id, None)
                working.error = f"{type(exc).__name__}: {exc}"
                self._emit(
                    "error",
                    order.session_id,
                    order.symbol,
                    {
                        "error": working.error,
                        "stacktrace": stacktrace(),
                        "client_id": order.client_id,
                        "intent_id": order.intent_id,
                        "stage": "execute",
                    },
                )
                return working
            for report in reports:
                self._apply_report(report)
            if working.ended is None:
                if order.time_in_force == "IOC":
                    self._expire(working, "IOC: the unfilled remainder expires at once")
                elif working.deadline is not None:
                    heapq.heappush(self._deadlines, (working.deadline, order.client_id))
            return working

    def on_price(self, symbol: str, price: float) -> list[Fill]:
        """Ask the executor which working orders ``price`` fills and apply those pieces (the
        applied ones are returned); then expire the orders whose time has run out."""
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

    def cancel(self, client_id: str, reason: str) -> bool:
        """Cancel a working order (see :meth:`ExecutionPipeline.cancel_order`)."""
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
            self._end(working, "cancel", "cancelled", reason)
            return True

    def expire_due(self, now: float) -> list[str]:
        """Expire the working orders whose time in force has run out by ``now`` (POSIX s);
        their client ids."""
        with self._lock:
            return self._expire_due(now)

    # -- the order's life (under the lock) -----------------------------------------------
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
                    "stacktrace": stacktrace(),
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
                "stacktrace": stacktrace(),
                "client_id": order.client_id if order is not None else None,
                "intent_id": order.intent_id if order is not None else None,
                "stage": stage,
            },
        )


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
