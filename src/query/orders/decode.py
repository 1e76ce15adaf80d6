"""What the order fold reads of a line: the record (lean per-kind decoders, the full rules
for the lines they reject) and its scalars as the blotter keeps them (names, finite
numbers, text, symbol, side), whatever type a log gave them."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final, cast

import msgspec

from src.query.analytics.pairing_model import as_number
from src.query.records import Scalar, ScanRecord, in_range, scan_line
from src.query.scan_events import scan_decoder

__all__ = [
    "LEAN_DECODE",
    "LEAN_REJECTED",
    "decode_line",
    "name_of",
    "number",
    "side_of",
    "symbol_of",
    "text_of",
]

# The lean decoder and what it raises on a line the full rules must judge.
LEAN_DECODE: Final[Callable[[bytes], ScanRecord]] = cast(
    "Callable[[bytes], ScanRecord]", scan_decoder.decode
)  # a lean record has the fields the fold reads, by kind (see OrderFold.feed)
LEAN_REJECTED: Final = (msgspec.ValidationError, msgspec.DecodeError, RecursionError)


def decode_line(line: bytes) -> ScanRecord | None:
    """The record the fold reads from one line (None: not a valid event), by the rules of
    :func:`~src.query.records.decode_scan`, with the summary's lean per-kind decoders
    (:mod:`src.query.scan_events`): each line decodes only its kind's keys, several times
    cheaper to build than a :class:`~src.query.records.ScanRecord` with every kind's.
    Lines they reject take the full rules (a ScanRecord)."""
    try:
        rec = LEAN_DECODE(line)
    except LEAN_REJECTED:
        return scan_line(line)[0]
    return rec if in_range(rec.ts) else None


def name_of(value: Scalar) -> str | None:
    """An id as text (None stays None)."""
    if value.__class__ is str or value is None:
        return value
    return str(value)


def number(value: Scalar) -> float | None:
    """A finite number, or None."""
    if value.__class__ is float:
        return value if value - value == 0.0 else None
    if value is None:
        return None
    n = as_number(value)
    return n if n is not None and math.isfinite(n) else None


def text_of(value: Scalar) -> str | None:
    """Text to show (an empty string is None)."""
    if value.__class__ is str:
        return value or None
    return None if value is None else str(value)


def symbol_of(value: Scalar) -> str:
    """A symbol as text (None: ``""``)."""
    if isinstance(value, str):
        return value
    return "" if value is None else str(value)


def side_of(value: Scalar) -> str | None:
    """A side in lower case (None unless text)."""
    return value.lower() if isinstance(value, str) else None
