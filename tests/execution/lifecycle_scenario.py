"""A session that takes every path of an order's life, for tests that need each kind.

``run_every_path(emitter)`` drives real pipelines (the paper venue with all its rules, a
failing executor, a crashing gate) through: fills in one piece and in several, blocks by a
gate and by validation, venue rejects (price band, max quantity, balance), IOC remainders,
DAY and ``expire_after_s`` expiries, a cancel of a partly filled order, a cancel the venue
fails, a fill arriving for an ended order, an execute-stage error, and one order left
working. The returned dict names the client ids of each outcome.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from src.execution import (
    ExecutionPipeline,
    Fill,
    GateDecision,
    MarketState,
    MaxNotionalGate,
    Order,
    OrderIntent,
    PaperExecutor,
)
from src.execution.telemetry.base import Emitter

SESSION = "every-path"
SYMBOL = "BTC-USD"


class ExplodingGate:
    name = "Exploding"

    def check(self, intent: OrderIntent, market: MarketState) -> GateDecision:
        raise RuntimeError("risk service unreachable")


class FailingExecutor:
    def execute(self, order: Order, market_price: float | None) -> Fill | None:
        raise RuntimeError("exchange down")


class FlakyCancelVenue(PaperExecutor):
    """A paper venue whose cancel fails once, and which then reports a fill for the order
    it cancelled (a late fill racing the cancel)."""

    def __init__(self) -> None:
        super().__init__(slippage_bps=0, fee_bps=0)
        self.fail_cancel = True
        self.cancelled: list[Order] = []

    def cancel(self, client_id: str) -> bool:
        if self.fail_cancel:
            self.fail_cancel = False
            raise ConnectionError("venue timeout")
        self.cancelled += [o for o in self.open_orders if o.client_id == client_id]
        return super().cancel(client_id)

    def on_price(self, symbol: str, price: float) -> list[Fill]:
        late = [
            Fill(
                client_id=o.client_id,
                intent_id=o.intent_id,
                symbol=o.symbol,
                side=o.side,
                filled_quantity=o.quantity,
                fill_price=price,
                fee=0.0,
                reference_price=price,
            )
            for o in self.cancelled
        ]
        self.cancelled = []
        return late + super().on_price(symbol, price)


def _intent(**fields: object) -> OrderIntent:
    base: dict[str, object] = {"symbol": SYMBOL, "side": "buy", "quantity": 1.0}
    base["session_id"] = SESSION
    base.update(fields)
    return OrderIntent(**base)  # type: ignore[arg-type]


def run_every_path(emitter: Emitter, session: str = SESSION) -> dict[str, str]:
    """Write every path into ``emitter`` (session ``session``); returns client ids by outcome
    (the paper venue's balance runs short only at the end: "balance_rejected")."""
    out: dict[str, str] = {}

    def intent(**fields: object) -> OrderIntent:
        return _intent(session_id=session, **fields)

    venue = PaperExecutor(
        slippage_bps=2,
        fee_bps=1,
        balance=1_200.0,
        price_band_bps=600,
        max_quantity=8,
        max_fill_quantity=1.0,
    )
    p = ExecutionPipeline(venue, emitter, gates=[MaxNotionalGate(2_000)])
    p.update_price(SYMBOL, 100.0)

    def client_id(result: object) -> str:
        order = getattr(result, "order", None)
        assert order is not None, result
        return str(order.client_id)

    out["filled"] = client_id(p.submit_order(intent(quantity=1.0)))  # ack, fill
    p.submit_order(intent(quantity=50.0))  # blocked by MaxNotional
    p.submit_order(intent(quantity=-1.0))  # blocked by IntentValidation
    partly = p.submit_order(intent(quantity=3.0))  # ack, partial_fill
    out["pieces"] = client_id(partly)
    resting = p.submit_order(intent(side="sell", order_type="limit", limit_price=104.0))
    out["limit_filled"] = client_id(resting)
    p.update_price(SYMBOL, 101.0)  # the 3-lot: second piece
    p.update_price(SYMBOL, 105.0)  # the 3-lot completes (fill with totals); the sell limit fills
    to_cancel = p.submit_order(intent(quantity=2.0, order_type="limit", limit_price=106.0))
    out["partly_cancelled"] = client_id(to_cancel)  # one piece fills at once (max_fill 1)
    assert p.cancel_order(out["partly_cancelled"], reason="strategy changed its mind")
    out["ioc_expired"] = client_id(
        p.submit_order(intent(quantity=2.5, time_in_force="IOC"))  # a piece, then expire
    )
    out["band_rejected"] = client_id(
        p.submit_order(intent(order_type="limit", limit_price=80.0))  # 2,381 bps away
    )
    out["size_rejected"] = client_id(p.submit_order(intent(quantity=9.0, current_price=105.0)))
    day = p.submit_order(intent(order_type="limit", limit_price=100.0, time_in_force="DAY"))
    out["day_expired"] = client_id(day)
    later = p.submit_order(intent(order_type="limit", limit_price=100.0, expire_after_s=30))
    out["after_expired"] = client_id(later)
    out["working"] = client_id(p.submit_order(intent(order_type="limit", limit_price=99.0)))
    out["balance_rejected"] = client_id(
        p.submit_order(intent(quantity=8.0, order_type="limit", limit_price=104.0))
    )
    now = datetime.now(UTC)
    p.expire_orders(now + timedelta(seconds=31))  # expire_after_s
    p.expire_orders(now + timedelta(days=1))  # the end of the UTC day

    flaky_venue = FlakyCancelVenue()
    flaky = ExecutionPipeline(flaky_venue, emitter)
    flaky.update_price(SYMBOL, 100.0)
    stuck = flaky.submit_order(intent(order_type="limit", limit_price=90.0))
    out["cancel_failed"] = client_id(stuck)
    low = flaky.submit_order(intent(order_type="limit", limit_price=50.0))
    out["working_too"] = client_id(low)  # keeps the venue asked on each price
    assert flaky.cancel_order(out["cancel_failed"]) is False  # error, stage cancel
    assert flaky.cancel_order(out["cancel_failed"]) is True  # cancel
    flaky.update_price(SYMBOL, 89.0)  # the late fill for the cancelled order: error, stage report

    ExecutionPipeline(PaperExecutor(), emitter, gates=[ExplodingGate()]).submit_order(
        intent(symbol="ETH-USD", current_price=10.0)
    )  # error, stage gate
    failed = ExecutionPipeline(FailingExecutor(), emitter).submit_order(
        intent(symbol="ETH-USD", current_price=10.0)
    )  # error, stage execute
    out["error"] = client_id(failed)
    return out
