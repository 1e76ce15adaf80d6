"""Cheap, process-unique identifiers for events, intents and orders.

A random per-process prefix plus a number: unique across processes and restarts without
paying for ``uuid4`` (an ``os.urandom`` call) on every id. The prefix is re-drawn in a
forked child so parent and child never hand out the same id.

Numbers are handed out in blocks of 4,096 from one counter, so event ids and
:func:`new_id` never share a number. Event ids are drawn in batches: a block's ids are
``"evt-<prefix>-<block in hex>"`` followed by the 4,096 three-digit hex suffixes (the same
text as the block's numbers in hex), produced lazily by C-level iterators, so drawing one
costs no Python call (it is the events' ``default_factory``); Python code runs once per
block. Hand-written rather than ``uuid``/``secrets`` per id: those cost 5-10x more per event.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Callable, Iterator

__all__ = ["new_event_id", "new_id"]

_BLOCK_BITS = 12
_BLOCK = 1 << _BLOCK_BITS  # numbers per block; the suffixes are three hex digits
_SUFFIXES = tuple(f"{n:03x}" for n in range(_BLOCK))

_prefix = secrets.token_hex(6)
_blocks = itertools.count(1)  # block 0 is never used: its numbers would print shorter
_current: Iterator[str] = iter(())  # the suffixes left in the current event-id block
_current_numbers: Iterator[int] = iter(())  # the numbers left in new_id's current block


def _event_id_block(_: object) -> Iterator[str]:
    """The next block's event ids, lazily: ``head + suffix`` for every suffix."""
    global _current
    head = f"evt-{_prefix}-{next(_blocks):x}"
    _current = suffixes = iter(_SUFFIXES)
    return map(head.__add__, suffixes)


def _number_block(_: object) -> Iterator[int]:
    global _current_numbers
    block = next(_blocks)
    _current_numbers = numbers = iter(range(block << _BLOCK_BITS, (block + 1) << _BLOCK_BITS))
    return numbers


_event_ids = itertools.chain.from_iterable(map(_event_id_block, itertools.repeat(None)))
_numbers = itertools.chain.from_iterable(map(_number_block, itertools.repeat(None)))

#: Return a new event id such as ``evt-3fa2c9d01b7e-1a2f``: the default ``event_id`` of
#: every event. A C-level callable (no Python frame per id); safe to call from any thread.
new_event_id: Callable[[], str] = _event_ids.__next__


def new_id(kind: str = "evt") -> str:
    """Return a new id such as ``ord-3fa2c9d01b7e-1a2f``; ``kind`` is a short readable tag."""
    return f"{kind}-{_prefix}-{next(_numbers):x}"


def _reseed() -> None:
    global _prefix, _blocks
    _prefix = secrets.token_hex(6)
    _blocks = itertools.count(1)
    # The child must not finish the parent's current blocks (the parent hands out the same
    # ids, and the child's new counter could hand out those blocks again): exhaust them, so
    # the next draw starts a block of the child's own, under the new prefix.
    for _ in _current:
        pass
    for _ in _current_numbers:
        pass


os.register_at_fork(after_in_child=_reseed)
