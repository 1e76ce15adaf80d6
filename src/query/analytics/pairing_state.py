"""Packing a pairer's state for another process, and unpacking only what is needed.

Fill ids and completed order ids are most of what a worker sends, and pickle spends its
time memoising their strings: msgpack packs them several times faster (exactly: JSON
values round-trip; anything else is pickled as usual). The receiver unpacks them only as
far as it needs: a last merge only asks about the ids its replay touches.

Samples travel as arrays of doubles (pickled as one block of bytes each).
"""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Hashable, Iterable
from typing import TYPE_CHECKING, Any, cast

import msgspec

from src.query.analytics import pairing_ids
from src.query.analytics.pairing_model import COMPLETED, Order

if TYPE_CHECKING:
    from src.query.analytics.pairing import Pairer

__all__ = [
    "finish_part",
    "pack",
    "pack_samples",
    "packed_fill_ids",
    "packed_lists",
    "restore",
    "unpack",
]

_LEGS = ("intent_to_order", "order_to_fill", "intent_to_fill", "order_to_ack", "order_to_cancel")

_encode = msgspec.msgpack.Encoder().encode


def pack(pairer: Pairer) -> dict[str, object]:
    """The pairer's pickle state, with fill ids and completed order ids packed (or
    indexed: :mod:`~src.query.analytics.pairing_ids`, the ids since kept as they are)."""
    state = pairer.__dict__.copy()
    state["_unpacked"] = None
    for name in ("_sid", "_sid_intents", "_sid_orders"):  # see Pairer.__setstate__
        del state[name]
    if pairer._fill_index is not None:
        state["_fill_ids"] = set(pairer._fill_ids)  # an IndexedSet again when unpickled
        return state
    if pairer._packed is not None:
        return state
    completed = []
    others: dict[Any, dict[Any, Any]] = {}
    for sid, orders in pairer._orders.items():
        done = [cid for cid, value in orders.items() if value is COMPLETED]
        completed.append((sid, done))
        others[sid] = {cid: value for cid, value in orders.items() if value is not COMPLETED}
    try:
        packed = _encode((list(pairer._fill_ids), completed))
    except (TypeError, ValueError, OverflowError):
        return state
    state.update(_orders=others, _fill_ids=set(), _packed=packed)
    return state


def restore(pairer: Pairer, state: dict[str, object]) -> None:
    """Set the pairer from what :func:`pack` gave (its ``__setstate__``); an id index is
    checked first (a saved state's data is not trusted to be well formed)."""
    pairer.__dict__.update(state)
    pairer._sid_intents, pairer._sid_orders = {}, {}
    index = pairer._fill_index
    if index is not None:
        index.check()
        for done in pairer._done_index.values():
            done.check()
        pairer._fill_ids = pairing_ids.IndexedSet(index, pairer._fill_ids)
    pairer.forget_session()


def finish_part(pairer: Pairer) -> None:
    """Prepare a part summarised on its own for merging, in its worker: sort the samples,
    packed as arrays (merging sorted runs later is linear, where sorting everything in one
    process is not), and note which orders are open."""
    pairer.open_keys = [
        (sid, cid)
        for sid, orders in pairer._orders.items()
        for cid, v in orders.items()
        if v.__class__ is Order
    ]
    for leg in _LEGS:
        setattr(pairer, leg, array("d", sorted(getattr(pairer, leg))))
    slippage = pairer.slippage
    for symbol, values in slippage.items():
        slippage[symbol] = array("d", sorted(values))


def pack_samples(pairer: Pairer) -> None:
    """The pairer's sample lists as arrays, in the same (file) order."""
    for leg in _LEGS:
        setattr(pairer, leg, array("d", getattr(pairer, leg)))
    slippage = pairer.slippage
    for symbol, values in slippage.items():
        slippage[symbol] = array("d", values)


_Lists = tuple[list[Any], list[tuple[Any, list[Any]]]]


def packed_lists(pairer: Pairer) -> _Lists:
    """(fill ids, [(session, completed order ids)]) of a packed pairer, decoded."""
    return _lists(pairer)


def _lists(pairer: Pairer) -> _Lists:
    unpacked: _Lists | None = pairer._unpacked
    if unpacked is None:
        packed = cast(bytes, pairer._packed)  # set by pack(), whenever nothing is unpacked
        unpacked = pairer._unpacked = msgspec.msgpack.decode(packed)
    return unpacked


def packed_fill_ids(pairer: Pairer) -> list[Hashable]:
    return _lists(pairer)[0]


def unpack(
    pairer: Pairer, fill_ids: set[Hashable] | None, order_keys: Iterable[tuple[Hashable, Hashable]]
) -> None:
    """Restore all packed state, or (a last merge) only the given fill ids and the given
    (session, order id) keys: the pairer is then good for nothing but its result."""
    packed_ids, completed = _lists(pairer)
    wanted: dict[Any, set[Any]] | None = None
    if fill_ids is None:
        pairer._fill_ids = set(packed_ids)
    else:
        pairer._fill_ids = fill_ids.intersection(packed_ids)
        wanted = {}
        for sid, client_id in order_keys:
            wanted.setdefault(sid, set()).add(client_id)
    for sid, packed_client_ids in completed:
        client_ids: Iterable[Any] = packed_client_ids
        if wanted is not None:
            client_ids = wanted.get(sid, set()).intersection(packed_client_ids)
        orders = pairer._orders.setdefault(sid, {})
        orders.update(zip(client_ids, itertools.repeat(COMPLETED)))
    pairer._packed = pairer._unpacked = None
    pairer.forget_session()
    if wanted is not None:
        pairer.last_merged = True
