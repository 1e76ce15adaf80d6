"""Cheap, process-unique identifiers for events, intents and orders.

A random per-process prefix plus a counter: unique across processes and restarts without
paying for ``uuid4`` (an ``os.urandom`` call) on every event. The prefix is re-drawn in a
forked child so parent and child never hand out the same id (the child's counter goes on
from the parent's).
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Callable

__all__ = ["new_event_id", "new_id"]

_prefix = secrets.token_hex(6)
_counter = itertools.count(1)  # never replaced: new_event_id below holds it
# new_event_id's prefix, in a list so the at-fork hook can change it under the iterator.
_event_prefix = [f"evt-{_prefix}-"]


def _reseed() -> None:
    global _prefix
    _prefix = secrets.token_hex(6)
    _event_prefix[0] = f"evt-{_prefix}-"


os.register_at_fork(after_in_child=_reseed)


def new_id(kind: str = "evt") -> str:
    """Return a new id such as ``evt-3fa2c9d01b7e-1a``; ``kind`` is a short readable tag."""
    return f"{kind}-{_prefix}-{next(_counter):x}"


# ``new_id("evt")`` without a Python frame (one is drawn for every event): C iterators read
# the current prefix and the shared counter and format them with "%s%x".
_prefixes = map(_event_prefix.__getitem__, itertools.repeat(0))
_event_ids = map("%s%x".__mod__, zip(_prefixes, _counter, strict=False))
new_event_id: Callable[[], str] = _event_ids.__next__
