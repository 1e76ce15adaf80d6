"""Cheap, process-unique identifiers for events, intents and orders.

A random per-process prefix plus a counter: unique across processes and restarts without
paying for ``uuid4`` (an ``os.urandom`` call) on every event. The prefix is re-drawn in a
forked child so parent and child never hand out the same id.
"""

from __future__ import annotations

import itertools
import os
import secrets

__all__ = ["new_event_id", "new_id"]

_prefix = secrets.token_hex(6)
_counter = itertools.count(1)


def _reseed() -> None:
    global _prefix, _counter
    _prefix = secrets.token_hex(6)
    _counter = itertools.count(1)


os.register_at_fork(after_in_child=_reseed)


def new_id(kind: str = "evt") -> str:
    """Return a new id such as ``evt-3fa2c9d01b7e-1a``; ``kind`` is a short readable tag."""
    return f"{kind}-{_prefix}-{next(_counter):x}"


def new_event_id() -> str:
    """``new_id("evt")`` in one call: the default ``event_id`` of every event."""
    return f"evt-{_prefix}-{next(_counter):x}"
