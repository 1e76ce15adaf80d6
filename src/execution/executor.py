"""What the pipeline needs of a venue: the original :class:`Executor` and the
:class:`LifecycleExecutor` that reports acks, rejects and fills
(:class:`~src.execution.paper.PaperExecutor` is both)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from src.execution.models import ExecutionReport, Fill, Order

__all__ = ["Executor", "LifecycleExecutor"]


class Executor(Protocol):
    """The original executor: fill ``order`` at ``market_price`` and return the fill, or
    ``None`` when the order works on (a limit not yet crossed). Raising is allowed: the
    pipeline logs an ``error`` event and returns an ``error`` result.

    A returned fill is one piece: when it covers the whole order the order is filled,
    otherwise it works on. An executor that rests orders may also define
    ``on_price(symbol, price) -> list[Fill]`` (called by
    :meth:`ExecutionPipeline.update_price`) and ``cancel(client_id) -> bool`` (called when
    an order is cancelled or expires).
    """

    def execute(self, order: Order, market_price: float | None) -> Fill | None: ...


@runtime_checkable
class LifecycleExecutor(Protocol):
    """A venue that reports an order's life.

    ``submit`` returns the reports the order gets at once: an :class:`Ack` (with the venue's
    order id) and then any pieces filled now (:class:`Fill`), or a :class:`Reject` with its
    reason. ``on_price`` returns the pieces a new price fills; ``cancel`` stops a working
    order (``False``: the venue does not know it as working). Any of them may raise: the
    pipeline turns that into an ``error`` event.
    """

    def submit(self, order: Order, market_price: float | None) -> Sequence[ExecutionReport]: ...

    def on_price(self, symbol: str, price: float) -> Sequence[Fill]: ...

    def cancel(self, client_id: str) -> bool: ...
