"""Pairing a later part of a read on its own, then merging it exactly (parallel scans).

A :class:`RangePairer` sees only its part of the file; what the earlier parts leave
behind (pending intents, open and completed orders, seen fill ids) is unknown
while it runs. Every operation whose outcome could depend on that unknown state is
*deferred*: kept, with its record, to be replayed in file order on the earlier parts'
:class:`Pairer` when the two are merged. So that a replayed operation sees exactly the
state it would have seen in one pass, each key it touches (an intent id, an order id, an
arrival-order queue) becomes *tainted*: its local state so far is handed over to the
replay, and every later operation on it in this part is deferred too. Keys that are
never tainted are settled locally, which is almost all of them: dependencies across a
part boundary are round trips in flight at the cut.

The merge gives the earlier part's pairer exactly the state one pass would have: order
numbers are renumbered to follow the earlier parts' (one pass numbers every order event in
file order), and each deferred operation carries where this part's sample lists stood when
it was deferred, so the samples its replay adds are put back at that position in file
order (a saved state resumed later, and the live charts' sample marks, see one pass's
lists; see :mod:`src.query.saved_scan`).

Fill ids are the one optimistic assumption: a fill whose event id is new to this part
is applied as new. :meth:`RangePairer.can_follow` checks that none of those ids was seen
earlier; when one was, the part cannot be merged and is re-read by the caller.
"""

from __future__ import annotations

import itertools
from collections import deque
from typing import Any

from src.query.analytics.pairing import Pairer
from src.query.analytics.pairing_model import MISSING, TAINTED, Order
from src.query.records import EMPTY_PAYLOAD, ScanRecord

__all__ = ["RangePairer"]

_LEGS = ("intent_to_order", "order_to_fill", "intent_to_fill", "order_to_ack", "order_to_cancel")
_SAMPLING = frozenset({"order", "fill", "lifecycle"})  # replays that may add samples


class RangePairer(Pairer):
    """A :class:`Pairer` for a part of a read that follows parts summarised elsewhere.

    Its state marks what this part settled: a removed intent stays as None, and a
    tainted key maps to ``TAINTED`` (in the intent and order maps and queues).
    """

    def __init__(self, seq_base: int) -> None:
        super().__init__(seq_base)
        self.ranged = True
        self.seq_base = seq_base
        self._deferred: list[tuple[Any, ...]] = []
        # index in _deferred -> (lengths of the _LEGS lists, symbol, its slippage length)
        self._sample_at: dict[int, tuple[Any, ...]] = {}
        self._deferred_fill_ids: set[Any] = set()
        self._tainted_orders: list[tuple[Any, Any]] = []

    def _defer(
        self,
        op: tuple[Any, ...],
        *,
        intent: tuple[Any, Any] | None = None,
        intent_queue: tuple[Any, Any, Any] | None = None,
        order: tuple[Any, Any] | None = None,
        order_queue: tuple[Any, Any] | None = None,
        event_id: Any = None,
    ) -> None:
        """Keep ``op`` for the replay, first tainting every key it touches."""
        if intent is not None:
            self._taint_intent(intent)
        if intent_queue is not None:
            self._taint_queue(self._intent_fifo, intent_queue, "intent_queue")
        if order is not None:
            self._taint_order(order)
        if order_queue is not None:
            self._taint_queue(self._order_fifo, order_queue, "order_queue")
        if event_id is not None:
            self._fill_ids.add(event_id)  # later fills with this id are duplicates anyway
            self._deferred_fill_ids.add(event_id)
        if op[0] in _SAMPLING:
            symbol = op[1].symbol
            self._sample_at[len(self._deferred)] = (
                *(len(getattr(self, leg)) for leg in _LEGS),
                symbol,
                len(self.slippage.get(symbol, ())),
            )
        self._deferred.append(op)

    def _settled_here(
        self, intents: dict[Any, Any], orders: dict[Any, Any], rec: Any, iid: Any, cid: Any
    ) -> bool:
        """Can this order be paired from this part's state alone?"""
        if iid is None:
            return False  # an intent queue may hold older intents from an earlier part
        if intents.get(iid, MISSING) in (MISSING, TAINTED):
            return False
        if cid is not None:
            return orders.get(cid) is not TAINTED
        return self._order_fifo.get((rec.session_id, rec.symbol)) is not TAINTED

    def _order_keys(self, rec: ScanRecord, client_id: Any, side: Any) -> dict[str, Any]:
        p = rec.payload or EMPTY_PAYLOAD
        sid = rec.session_id
        keys: dict[str, Any] = {}
        if p.intent_id is not None:
            keys["intent"] = (sid, p.intent_id)
        else:
            keys["intent_queue"] = (sid, rec.symbol, side)
        if client_id is not None:
            keys["order"] = (sid, client_id)
        else:
            keys["order_queue"] = (sid, rec.symbol)
        return keys

    def _defer_fill(self, rec: ScanRecord, sid: Any, iid: Any, **keys: Any) -> None:
        """Defer a fill whose order may be in an earlier part. Without one it pairs by
        intent id, so that intent's state goes to the replay as well."""
        if iid is not None:
            keys["intent"] = (sid, iid)
        self._defer(("fill", rec), event_id=rec.event_id, **keys)

    # -- tainting: hand a key's state so far over to the replay ----------------------------

    def _taint_intent(self, key: tuple[Any, Any]) -> None:
        intents = self.session_maps(key[0])[0]
        old = intents.get(key[1], MISSING)
        if old is TAINTED:
            return
        intents[key[1]] = TAINTED
        if old is not MISSING:
            self._deferred.append(("intent_state", key, old))

    def _taint_queue(self, queues: dict[Any, Any], key: tuple[Any, ...], what: str) -> None:
        old = queues.get(key)
        if old is TAINTED:
            return
        queues[key] = TAINTED
        if old:
            self._deferred.append((what, key, list(old)))

    def _taint_order(self, key: tuple[Any, Any]) -> None:
        orders = self.session_maps(key[0])[1]
        old = orders.get(key[1])
        if old is TAINTED:
            return
        orders[key[1]] = TAINTED
        self._tainted_orders.append(key)
        if old is not None:
            # Only an order deferred for its intent taints an order id used here, and
            # replaying it replaces this state; handing the state over anyway keeps the
            # rule simple: every tainted key starts the replay from its exact state.
            self._deferred.append(("order_state", key, old))

    # -- merging ---------------------------------------------------------------------------

    def can_follow(self, earlier: Pairer) -> bool:
        """False when a fill settled here as new had an event id seen in ``earlier``."""
        self.unpack()
        clash = self._fill_ids.intersection(earlier.packed_fill_ids())
        return not clash or clash <= self._deferred_fill_ids

    def merge_into(self, earlier: Pairer, *, last: bool = False) -> None:
        """Replay the deferred operations on ``earlier``, then add this part's own state.

        Call only after :meth:`can_follow` returned True. With ``last``, only what its
        report (:mod:`~src.query.analytics.pairing_report`) reads is merged (open orders,
        not pending intents, completed order ids or fill ids): ``earlier`` can then only
        give its report.
        """
        self.unpack()
        if last:
            earlier.unpack(self._deferred_fill_ids, self._tainted_orders)
        else:
            earlier.unpack()
        delta = earlier.next_seq - self.seq_base
        self._renumber(delta)
        samples = _Samples(self, earlier)
        for index, op in enumerate(self._deferred):
            at = self._sample_at.get(index)
            if at is not None:
                samples.up_to(at)  # this part's samples before the op, then the op's
            if op[0] == "order":
                earlier.order(op[1], seq=op[2] + delta)
            else:
                _replay(earlier, op)
        samples.rest()
        earlier.next_seq = self.next_seq + delta
        earlier.forget_session()
        if last:
            earlier.last_merged = True
            # Open orders before the cut survive unless this part placed the same id;
            # a tainted id holds whatever the replay left.
            if earlier.open_keys is None:
                earlier.finish_part()
            kept: dict[Any, dict[Any, Any]] = {}
            for sid, cid in itertools.chain(earlier.open_keys or (), self._tainted_orders):
                order = earlier._orders.get(sid, {}).get(cid)
                here = self._orders.get(sid, {}).get(cid, TAINTED)
                if order.__class__ is Order and here is TAINTED:
                    kept.setdefault(sid, {})[cid] = order
            if self.open_keys is None:
                self.finish_part()
            for sid, cid in self.open_keys or ():
                kept.setdefault(sid, {})[cid] = self._orders[sid][cid]
            earlier._orders = kept
        else:
            for sid, mine in self._intents.items():
                intents = earlier._intents.setdefault(sid, {})
                for iid in intents.keys() & mine.keys():
                    if mine[iid] is None:
                        del intents[iid]  # set again and paired (or blocked) in this part
                intents.update(
                    (k, v) for k, v in mine.items() if v is not None and v is not TAINTED
                )
            for sid, mine in self._orders.items():
                # Orders (open, or COMPLETED) placed here replace any under the same id.
                orders = earlier._orders.setdefault(sid, {})
                orders.update((k, v) for k, v in mine.items() if v is not TAINTED)
            earlier._fill_ids |= self._fill_ids
            earlier.open_keys = None  # no longer up to date
        fifos: tuple[tuple[dict[Any, Any], dict[Any, Any]], ...] = (
            (self._intent_fifo, earlier._intent_fifo),
            (self._order_fifo, earlier._order_fifo),
        )
        for mine, theirs in fifos:
            for key, queue in mine.items():
                if queue is not TAINTED:
                    theirs.setdefault(key, deque()).extend(queue)
        earlier.negative_intervals += self.negative_intervals
        earlier.orders += self.orders
        earlier.fills += self.fills
        earlier.filled_orders += self.filled_orders
        earlier.fills_without_orders += self.fills_without_orders
        earlier.duplicate_fills += self.duplicate_fills
        for status, count in self.outcomes.items():
            earlier.outcomes[status] = earlier.outcomes.get(status, 0) + count
        earlier.ended_partly_filled += self.ended_partly_filled
        earlier.acknowledged += self.acknowledged
        earlier.partial_fills += self.partial_fills
        earlier.partially_filled_orders += self.partially_filled_orders
        earlier.unmatched += self.unmatched

    def _renumber(self, delta: int) -> None:
        """Number this part's orders as one pass does: after the earlier parts' orders."""
        if not delta:
            return
        seen: set[int] = set()

        def shift(order: Any) -> None:
            if order.__class__ is Order and id(order) not in seen:
                seen.add(id(order))
                order.seq += delta

        for orders in self._orders.values():
            for order in orders.values():
                shift(order)
        for queue in self._order_fifo.values():
            if queue is not TAINTED:
                for order in queue:
                    shift(order)
        for op in self._deferred:
            if op[0] == "order_state":
                shift(op[2])
            elif op[0] == "order_queue":
                for order in op[2]:
                    shift(order)


class _Samples:
    """Puts a later part's samples after the earlier part's, in file order around the
    samples that replayed operations add."""

    def __init__(self, later: Pairer, earlier: Pairer) -> None:
        self.later, self.earlier = later, earlier
        self.done = [0] * len(_LEGS)
        self.slippage_done: dict[Any, int] = {}

    def up_to(self, at: tuple[Any, ...]) -> None:
        later, earlier = self.later, self.earlier
        for k, leg in enumerate(_LEGS):
            if at[k] > self.done[k]:
                getattr(earlier, leg).extend(getattr(later, leg)[self.done[k] : at[k]])
                self.done[k] = at[k]
        symbol, end = at[-2], at[-1]
        begin = self.slippage_done.get(symbol, 0)
        if end > begin:
            _extend(earlier.slippage, symbol, later.slippage[symbol][begin:end])
            self.slippage_done[symbol] = end

    def rest(self) -> None:
        later, earlier = self.later, self.earlier
        for k, leg in enumerate(_LEGS):
            values = getattr(later, leg)
            getattr(earlier, leg).extend(values[self.done[k] :] if self.done[k] else values)
        for symbol, values in later.slippage.items():
            begin = self.slippage_done.get(symbol, 0)
            if begin == 0:
                _extend(earlier.slippage, symbol, values)  # last use: no copy needed
            elif begin < len(values):
                _extend(earlier.slippage, symbol, values[begin:])


def _extend(into: dict[Any, Any], symbol: Any, values: Any) -> None:
    """Add ``values`` to a symbol's samples (taken as they are when it has none: a slice,
    or the later part's own list once nothing reads it any more)."""
    mine = into.get(symbol)
    if mine is None:
        into[symbol] = values
    else:
        mine.extend(values)


def _replay(pairer: Pairer, op: tuple[Any, ...]) -> None:
    what = op[0]
    if what == "intent":
        pairer.intent(op[1])
    elif what == "blocked":
        pairer.blocked(op[1])
    elif what == "fill":
        pairer.fill(op[1])
    elif what == "lifecycle":
        pairer.lifecycle(op[1])
    elif what == "intent_state":
        (sid, iid), info = op[1], op[2]
        intents = pairer.session_maps(sid)[0]
        if info is None:
            intents.pop(iid, None)
        else:
            intents[iid] = info
    elif what == "intent_queue":
        pairer._intent_fifo.setdefault(op[1], deque()).extend(op[2])
    elif what == "order_state":
        (sid, cid), order = op[1], op[2]
        pairer.session_maps(sid)[1][cid] = order
    elif what == "order_queue":
        pairer._order_fifo.setdefault(op[1], deque()).extend(op[2])
    else:  # pragma: no cover - the ops above are the only ones recorded
        raise ValueError(f"unknown deferred operation {what!r}")
