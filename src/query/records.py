"""Decoding a line into an event record, and the parse statistics readers keep.

A line is a valid event when it is UTF-8 JSON, an object, and has a string ``kind`` and a
``ts`` that parses as ISO 8601 (naive values mean UTC), and when none of the fields readers
group and pair its kind by is an array or an object: ``session_id`` and ``symbol`` for every
kind, and per kind (see :data:`KIND_NAME_FIELDS`) the payload's ids, ``side``, the gate name
and a fill's ``event_id``. Anything else is counted as invalid and skipped; decoding never
raises.

Two decoders share those rules: :func:`decode_record` (the full event, for timelines and
exports) and :func:`decode_scan` (only the fields analytics use, about twice as fast, for
scans over millions of lines).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
import orjson

__all__ = [
    "EMPTY_PAYLOAD",
    "KIND_NAME_FIELDS",
    "NAME_FIELDS",
    "ParseStats",
    "Record",
    "Scalar",
    "ScanPayload",
    "ScanRecord",
    "decode_record",
    "decode_scan",
    "decode_scan_slow",
    "is_utf8",
    "names_are_scalars",
    "parse_instant_dt",
    "parse_ts",
    "scan_decoder",
]


def parse_instant_dt(value: object) -> datetime | None:
    """The aware datetime of an ISO 8601 string (naive means UTC), else None."""
    if not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def parse_ts(value: object) -> float | None:
    """POSIX seconds of an ISO 8601 string (``Z`` or offset; naive means UTC), else None."""
    dt = parse_instant_dt(value)
    return None if dt is None else dt.timestamp()


@dataclass(slots=True)
class Record:
    """A fully decoded event line: the parsed object plus its instant."""

    data: dict[str, Any]
    t: float

    @property
    def kind(self) -> str:
        return self.data["kind"]

    @property
    def symbol(self) -> str:
        symbol = self.data.get("symbol")
        return symbol if isinstance(symbol, str) else ""

    @property
    def session_id(self) -> str:
        sid = self.data.get("session_id")
        return sid if isinstance(sid, str) else ""

    @property
    def payload(self) -> dict[str, Any]:
        payload = self.data.get("payload")
        return payload if isinstance(payload, dict) else {}


def decode_record(line: bytes) -> Record | None:
    """Decode one line fully; ``None`` when it is not a valid event."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("kind"), str) or not data["kind"]:
        return None
    t = parse_ts(data.get("ts"))
    if t is None or not names_are_scalars(data["kind"], data, data.get("payload")):
        return None
    return Record(data, t)


# A JSON value that is not an array or an object: the type of the fields that name things.
Scalar = str | int | float | bool | None
# Fields of every event, and of an event's payload by kind, that readers group or pair by
# (exactly those the scan's per-kind records decode, see src.query.scan_events).
NAME_FIELDS = ("session_id", "symbol")
KIND_NAME_FIELDS: dict[str, tuple[str, ...]] = {
    "intent": ("intent_id", "side"),
    "order": ("client_id", "intent_id", "side", "order_id"),
    "fill": ("client_id", "intent_id", "side", "order_id"),
    "gate": ("gate_name",),
}
PAYLOAD_NAME_FIELDS = ("intent_id", "client_id", "order_id", "side", "gate_name")


def names_are_scalars(kind: str, data: dict[str, Any], payload: Any) -> bool:
    """False when a field that names something for this ``kind`` is an array or an object
    (the line is then invalid)."""
    for key in NAME_FIELDS:
        if isinstance(data.get(key), (list, dict)):
            return False
    if kind == "fill" and isinstance(data.get("event_id"), (list, dict)):
        return False
    if isinstance(payload, dict):
        for key in KIND_NAME_FIELDS.get(kind, ()):
            if isinstance(payload.get(key), (list, dict)):
                return False
    return True


def _scalar_names(payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` with naming fields this kind does not use cleared when they are arrays
    or objects (so one odd field cannot empty the rest of the payload)."""
    odd = [k for k in PAYLOAD_NAME_FIELDS if isinstance(payload.get(k), (list, dict))]
    return {**payload, **dict.fromkeys(odd)} if odd else payload


class ScanPayload(msgspec.Struct, gc=False):
    """The payload keys analytics read; every other key is skipped while decoding."""

    intent_id: Scalar = None
    client_id: Scalar = None
    order_id: Scalar = None
    side: Scalar = None
    quantity: Any = None
    current_price: Any = None
    limit_price: Any = None
    order_type: Any = None
    gate_name: Scalar = None
    passed: Any = None
    reason: Any = None
    filled_quantity: Any = None
    fill_price: Any = None
    fill_fee: Any = None
    reference_price: Any = None
    error: Any = None


EMPTY_PAYLOAD = ScanPayload()


class ScanRecord(msgspec.Struct, gc=False, kw_only=True):
    """The fields of an event line that scans and analytics use.

    ``ts`` is always timezone-aware and ``kind`` a non-empty string: the fast decoder
    rejects anything else (naive times, other ISO forms, mistyped fields) with a
    ``ValidationError``, and such lines take the slower path with the same rules as
    :func:`decode_record`. Instants are compared as datetimes; :attr:`t` converts.
    """

    ts: Annotated[datetime, msgspec.Meta(tz=True)]
    session_id: Scalar = None
    symbol: Scalar = None
    mode: Any = None
    kind: Annotated[str, msgspec.Meta(min_length=1)]
    payload: ScanPayload | None = None
    seq: Any = None
    event_id: Scalar = None
    mono_ns: Any = None

    @property
    def t(self) -> float:
        """POSIX seconds of ``ts``."""
        return self.ts.timestamp()


class _LooseRecord(msgspec.Struct, gc=False):
    ts: Any = None
    session_id: Any = None
    symbol: Any = None
    mode: Any = None
    kind: Any = None
    payload: Any = None
    seq: Any = None
    event_id: Any = None
    mono_ns: Any = None


scan_decoder = msgspec.json.Decoder(ScanRecord)
_loose_decoder = msgspec.json.Decoder(_LooseRecord)


def is_utf8(line: bytes) -> bool:
    """True when ``line`` is valid UTF-8 (the scan decoder skips, and so never checks,
    keys it does not read; a line with undecodable bytes anywhere is invalid)."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode_scan(line: bytes) -> ScanRecord | None:
    """Decode the fields analytics need; ``None`` when the line is not a valid event.

    The fast path parses ``ts`` in C; lines it rejects (an ISO form RFC 3339 does not
    cover, a naive time, a payload that is not an object, a mistyped ``kind``) take the
    slower path with the same rules as :func:`decode_record`.
    """
    if not line.isascii() and not is_utf8(line):
        return None
    try:
        rec = scan_decoder.decode(line)
    except msgspec.ValidationError:
        return decode_scan_slow(line)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    if rec.payload is None:
        rec.payload = EMPTY_PAYLOAD
    return rec


def decode_scan_slow(line: bytes) -> ScanRecord | None:
    """:func:`decode_scan` for lines the typed decoder rejects (no UTF-8 check here)."""
    try:
        loose = _loose_decoder.decode(line)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
        return None
    if not isinstance(loose.kind, str) or not loose.kind:
        return None
    ts = parse_instant_dt(loose.ts)
    names = {"session_id": loose.session_id, "symbol": loose.symbol, "event_id": loose.event_id}
    if ts is None or not names_are_scalars(loose.kind, names, loose.payload):
        return None
    payload = EMPTY_PAYLOAD
    if isinstance(loose.payload, dict):
        try:
            payload = msgspec.convert(_scalar_names(loose.payload), ScanPayload, strict=False)
        except msgspec.ValidationError:
            payload = EMPTY_PAYLOAD
    # ts keeps the exact instant (and offset) parsed: no round trip through float seconds.
    return ScanRecord(
        ts=ts,
        session_id=loose.session_id,
        symbol=loose.symbol,
        mode=loose.mode,
        kind=loose.kind,
        payload=payload,
        seq=loose.seq,
        event_id=loose.event_id,
        mono_ns=loose.mono_ns,
    )


@dataclass(slots=True)
class ParseStats:
    """Line counts of a read: what was there, what was usable, what was skipped."""

    total_lines: int = 0
    valid_events: int = 0
    invalid_lines: int = 0
    torn_lines: int = 0
    files: int = 0
    unreadable_files: int = 0
    # the damaged files (bad gzip): what decoded before the damage was read and counted
    unreadable_paths: list[str] = field(default_factory=list)

    def note_unreadable(self, path: object) -> None:
        """Count and name a file that could not be read to its end."""
        self.unreadable_files += 1
        self.unreadable_paths.append(str(path))

    @property
    def error_rate(self) -> float:
        """Invalid lines as a fraction of all lines (0.0 for an empty read)."""
        return self.invalid_lines / self.total_lines if self.total_lines else 0.0

    def add(self, other: ParseStats) -> None:
        self.total_lines += other.total_lines
        self.valid_events += other.valid_events
        self.invalid_lines += other.invalid_lines
        self.torn_lines += other.torn_lines
        self.files += other.files
        self.unreadable_files += other.unreadable_files
        self.unreadable_paths.extend(other.unreadable_paths)

    def as_dict(self) -> dict[str, Any]:
        return {
            "total_lines": self.total_lines,
            "valid_events": self.valid_events,
            "invalid_lines": self.invalid_lines,
            "torn_lines": self.torn_lines,
            "error_rate": self.error_rate,
            "files": self.files,
            "unreadable_files": self.unreadable_files,
            "unreadable_paths": list(self.unreadable_paths),
        }
