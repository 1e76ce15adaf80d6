"""Pre-trade gates: each looks at an intent and says pass or block, with a reason.

A gate is any object with a ``name`` and ``check(intent, market) -> GateDecision``.
Every pipeline runs :class:`IntentValidationGate` first, whatever gates it is given: that
is the "validated order" step, so each intent gets at least one gate decision, and the
other gates only ever see well-formed intents.
"""

from __future__ import annotations

import math
import os
import threading
from typing import Protocol

from src.execution.market import MarketState
from src.execution.models import GateDecision, OrderIntent

__all__ = [
    "Gate",
    "IntentValidationGate",
    "KillSwitchGate",
    "MaxNotionalGate",
    "PriceSanityGate",
]


class Gate(Protocol):
    name: str

    def check(self, intent: OrderIntent, market: MarketState) -> GateDecision: ...


class IntentValidationGate:
    """Block an intent that cannot become an order, naming its first bad value.

    The checks are :class:`~src.execution.models.OrderIntent`'s own (made when it was
    built): symbol a non-empty string, side buy or sell, quantity (and any price) a finite
    number > 0, order type market or limit, a limit price exactly for limit orders, a safe
    session id. Anything that is not an ``OrderIntent`` at all is blocked too.
    """

    name = "IntentValidation"

    def check(self, intent: OrderIntent, market: MarketState) -> GateDecision:
        if not isinstance(intent, OrderIntent):
            shown = _shown(intent)
            return GateDecision(False, f"invalid intent {shown}: not an OrderIntent")
        problem = intent.problem
        if problem is None and type(intent) is not OrderIntent:
            problem = intent.current_problem()  # a subclass may have skipped the checks
        if problem is not None:
            return GateDecision(False, problem)
        return GateDecision(True, "valid")


def _shown(value: object) -> str:
    try:
        shown = repr(value)
    except Exception:  # a hostile __repr__ must not turn the block into a gate error
        shown = f"<{type(value).__name__}>"
    return shown if len(shown) <= 80 else shown[:77] + "..."


class PriceSanityGate:
    """Block intents whose quoted price is missing or too far from the last market price."""

    name = "PriceSanity"

    def __init__(
        self, max_deviation_bps: float = 500.0, *, require_market_price: bool = True
    ) -> None:
        if not (isinstance(max_deviation_bps, (int, float)) and 0 <= max_deviation_bps < math.inf):
            raise ValueError(f"invalid max_deviation_bps {max_deviation_bps!r}: must be >= 0")
        self.max_deviation_bps = max_deviation_bps
        # Fail closed: without a market price there is nothing to check the quote against.
        self.require_market_price = require_market_price

    def check(self, intent: OrderIntent, market: MarketState) -> GateDecision:
        quoted = intent.current_price
        last = market.last_price(intent.symbol)
        if quoted is None:
            if last is None:
                return GateDecision(False, "no price: intent has none and no market price known")
            return GateDecision(True, "no quoted price; market price used")
        if last is None:
            if self.require_market_price:
                return GateDecision(False, f"no market price for {intent.symbol} to check against")
            return GateDecision(True, "no market price yet; quoted price accepted")
        deviation_bps = abs(quoted - last) / last * 10_000
        if deviation_bps > self.max_deviation_bps:
            return GateDecision(
                False,
                f"price {quoted:,.2f} is {deviation_bps:,.0f} bps from last {last:,.2f} "
                f"(max {self.max_deviation_bps:,.0f})",
            )
        return GateDecision(True, f"{deviation_bps:,.1f} bps from last price")


class MaxNotionalGate:
    """Block intents whose notional (quantity x price) exceeds a limit."""

    name = "MaxNotional"

    def __init__(self, max_notional: float) -> None:
        if not (max_notional > 0 and math.isfinite(max_notional)):
            raise ValueError(f"invalid max_notional {max_notional!r}: must be a finite number > 0")
        self.max_notional = max_notional

    def check(self, intent: OrderIntent, market: MarketState) -> GateDecision:
        price = intent.reference_price or market.last_price(intent.symbol)
        if price is None:
            return GateDecision(False, "no price to judge notional")
        notional = intent.quantity * price
        if notional > self.max_notional:
            return GateDecision(
                False, f"notional {notional:,.2f} exceeds max {self.max_notional:,.2f}"
            )
        return GateDecision(True, f"notional {notional:,.2f}")


class KillSwitchGate:
    """Block everything while engaged: from code (:meth:`engage`) or by a file existing.

    The file lets an operator stop new orders from a shell (``touch run/KILL``) without
    touching the trading process.
    """

    name = "KillSwitch"

    def __init__(self, flag_file: str | os.PathLike[str] | None = None) -> None:
        self.flag_file = os.fspath(flag_file) if flag_file else None
        self._engaged = threading.Event()
        self._reason = ""

    def engage(self, reason: str = "engaged by operator") -> None:
        self._reason = reason
        self._engaged.set()

    def release(self) -> None:
        self._engaged.clear()

    @property
    def engaged(self) -> bool:
        return self._engaged.is_set() or (
            self.flag_file is not None and os.path.exists(self.flag_file)
        )

    def check(self, intent: OrderIntent, market: MarketState) -> GateDecision:
        if self._engaged.is_set():
            return GateDecision(False, f"kill switch: {self._reason}")
        if self.flag_file is not None and os.path.exists(self.flag_file):
            return GateDecision(False, f"kill switch: file {self.flag_file} exists")
        return GateDecision(True, "not engaged")
