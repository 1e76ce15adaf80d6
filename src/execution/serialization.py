"""The JSONL line format of an event, in one place.

Top-level keys keep the spec's ``"key": value`` spacing (so ``grep '"kind": "fill"'`` works
on a raw log); the payload is compact. Values the JSON encoder does not know (Decimal,
enums, arbitrary objects) are written as strings rather than failing the event.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from decimal import Decimal
from enum import Enum

import msgspec
import orjson

from src.execution.events import ExecutionEvent

__all__ = ["encode_event_line", "encode_json_line", "line_template"]

_OPTS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
_dumps = orjson.dumps


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


_UTC = UTC
# msgspec writes an aware UTC datetime exactly as isoformat() does, but with "Z" for the
# "+00:00" offset: the line template carries the offset, and the "Z" and closing quote are
# cut (``[:-2]``). It costs a third of orjson's encoding of an aware datetime.
_encode_ts = msgspec.json.Encoder().encode

# (session_id, symbol, mode, kind) -> (the encoded middle of the line, the whole line as a
# bytes %-template around it). A trading process has few distinct combinations; the cache is
# cleared if it ever grows past the bound.
_Key = tuple[str, str, str, str]
_line_cache: dict[_Key, tuple[bytes, bytes]] = {}
_LINE_CACHE_MAX = 4096


def _encode_fixed(key: _Key) -> tuple[bytes, bytes]:
    if len(_line_cache) >= _LINE_CACHE_MAX:
        _line_cache.clear()
    session_id, symbol, mode, kind = key
    middle = b', "session_id": %b, "symbol": %b, "mode": %b, "kind": %b, "payload": ' % (
        _dumps(session_id),
        _dumps(symbol),
        _dumps(mode),
        _dumps(kind),
    )
    template = b"".join(
        (
            b'{"ts": %b+00:00"',
            middle.replace(b"%", b"%%"),
            b'%b, "seq": %d, "event_id": %b, "mono_ns": %d}\n',
        )
    )
    _line_cache[key] = fixed = (middle, template)
    return fixed


def line_template(session_id: str, symbol: str, mode: str, kind: str) -> bytes:
    """The bytes %-template of the line of an event with these four fields, an aware UTC
    ``ts``, ``seq`` and ``mono_ns``: ``template % (msgspec's ts without its closing 'Z"',
    orjson's payload, seq, event_id as a JSON string, mono_ns)`` is what
    :func:`encode_event_line` returns. For the JSONL logger, which inlines that step (one
    Python call less per event; msgspec and orjson write every str alike)."""
    key = (session_id, symbol, mode, kind)
    fixed = _line_cache.get(key)
    return (fixed if fixed is not None else _encode_fixed(key))[1]


def encode_event_line(event: ExecutionEvent) -> bytes:
    """Return one newline-terminated JSON line for ``event``.

    This is on the trading path (once per event), hence the hand-inlined shape: everything
    but ``ts``, the payload, ``seq``, ``event_id`` and ``mono_ns`` comes from the cache, and
    the rest is put in with one ``%`` (the cheapest glue measured; ``benchmarks/bench_emit``).
    """
    fixed = _line_cache.get((event.session_id, event.symbol, event.mode, event.kind))
    if fixed is None:
        fixed = _encode_fixed((event.session_id, event.symbol, event.mode, event.kind))
    try:
        payload = _dumps(event.payload)
    except TypeError:
        # Uncommon values (Decimal, enums, non-str keys, objects): slower, never failing.
        payload = _dumps(event.payload, default=_default, option=_OPTS)
    ts = event.ts
    seq, mono = event.seq, event.mono_ns
    if seq is not None and mono is not None and ts.tzinfo is _UTC:
        # The pipeline's events: an aware UTC ts (ExecutionEvent converts every ts to it).
        return fixed[1] % (_encode_ts(ts)[:-2], payload, seq, _dumps(event.event_id), mono)
    tz = ts.tzinfo
    # An event's ts is always UTC (ExecutionEvent converts it); the other branch is for
    # objects built around the check.
    ts_json = _dumps(ts) if tz is None or tz is _UTC else _dumps(ts.isoformat())
    return b"".join(
        (
            b'{"ts": ',
            ts_json,
            fixed[0],
            payload,
            b"" if seq is None else b', "seq": %d' % seq,
            b', "event_id": ',
            _dumps(event.event_id),
            b"" if mono is None else b', "mono_ns": %d' % mono,
            b"}\n",
        )
    )


def encode_json_line(record: Mapping[str, object]) -> bytes:
    """Encode an already-built dict (e.g. a parsed event) with the same top-level spacing."""
    parts = [b"{"]
    first = True
    for key, value in record.items():
        if not first:
            parts.append(b", ")
        first = False
        parts.append(_dumps(str(key)))
        parts.append(b": ")
        parts.append(_dumps(value, default=_default, option=_OPTS))
    parts.append(b"}\n")
    return b"".join(parts)
