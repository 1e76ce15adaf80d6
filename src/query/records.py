"""Decoding a line into an event record, and the parse statistics readers keep.

The rule for a valid line, the same in every reader (full and lean decoders, parallel and
incremental scans, tails, pages, the dashboard's live head, exports and ``telemetry-sql``):

* UTF-8, and strict JSON as orjson reads it: no ``NaN``/``Infinity``, and no number whose
  magnitude is beyond a double's range (``1e400``, a 330-digit integer); an integer beyond
  64 bits but within that range is read as a double;
* at most :data:`MAX_DEPTH` (64) levels of arrays and objects, the line's own object being
  the first (our logger writes 2; deeper values break writers and renderers downstream);
* an object with a non-empty string ``kind`` and a ``ts`` that parses as ISO 8601 (naive
  values mean UTC) whose instant lies within :data:`EARLIEST` .. :data:`LATEST` (a day
  inside the range of ``datetime`` in UTC, so no conversion or window arithmetic can
  overflow);
* none of the fields readers group and pair its kind by is an array or an object:
  ``session_id`` and ``symbol`` for every kind, and per kind (see
  :data:`KIND_NAME_FIELDS`) the payload's ids, ``side``, the gate name and a fill's
  ``event_id``.

Anything else is counted as invalid and skipped; decoding never raises.

A writer killed in the middle of a large line leaves a fragment without its newline; the
next writer's line is then glued to it. Every line our logger writes starts with
:data:`LINE_START`, so a line that is not valid as a whole but ends in a valid line that
starts there is two lines: the fragment before it (counted invalid) and the line (kept).

Two decoders share those rules: :func:`decode_record` (the full event, for timelines and
exports) and :func:`decode_scan` (only the fields analytics use, for scans over millions
of lines). The scan's fast path (and the summary's, :mod:`src.query.scan_events`) types
every key our logger writes as a scalar and forbids other keys, so whatever it accepts
is valid by the rule above except the time range (checked after decoding); any line it
does not accept is judged by :func:`decode_record`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, cast

import msgspec
import orjson

from src.execution import schema
from src.execution.jsontypes import JsonObject, JsonValue

__all__ = [
    "EARLIEST",
    "EMPTY_PAYLOAD",
    "KIND_NAME_FIELDS",
    "LATEST",
    "LINE_START",
    "MAX_DEPTH",
    "NAME_FIELDS",
    "Int64",
    "ParseStats",
    "Record",
    "Scalar",
    "ScanPayload",
    "ScanRecord",
    "decode_after_fragment",
    "decode_record",
    "decode_scan",
    "decode_scan_slow",
    "decode_whole",
    "depth_ok",
    "in_range",
    "names_are_scalars",
    "parse_instant_dt",
    "parse_ts",
    "scan_decoder",
    "scan_line",
    "valid_start",
]

MAX_DEPTH = 64
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, tzinfo=UTC)
LINE_START = b'{"ts": '
# How many places a line after a fragment may start at are tried (from the right): a
# bound on the work an odd line can cause.
_RECOVERY_TRIES = 8


def in_range(dt: datetime) -> bool:
    """True when the aware ``dt`` is an instant a valid line may have."""
    return EARLIEST <= dt < LATEST


def parse_instant_dt(value: object) -> datetime | None:
    """The aware datetime of an ISO 8601 string (naive means UTC) within
    :data:`EARLIEST` .. :data:`LATEST`, else None."""
    if not isinstance(value, str):
        return None
    # As decode_whole reads it: msgspec's reading where msgspec has one (the typed
    # decoders of the scans use it), else Python's.
    dt = _msgspec_instant(value)
    if dt is None:
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt if EARLIEST <= dt < LATEST else None


def parse_ts(value: object) -> float | None:
    """POSIX seconds of an ISO 8601 string (``Z`` or offset; naive means UTC), else None."""
    dt = parse_instant_dt(value)
    return None if dt is None else dt.timestamp()


def depth_ok(line: bytes, data: JsonValue) -> bool:
    """True when ``data`` (decoded from ``line``) nests at most :data:`MAX_DEPTH` levels."""
    # A line cannot nest deeper than it has brackets (in strings or not). ``find`` is a
    # memchr, ``count`` a loop over every byte: a logger's line (no ``[``, two ``{``) is
    # cleared by three finds, and ``[`` is counted only when there is one.
    if line.find(b"[") < 0:
        second = line.find(b"{", 1)
        if second < 0 or line.find(b"{", second + 1) < 0:
            return True  # at most two brackets
        openers = line.count(b"{")
    else:
        openers = line.count(b"{") + line.count(b"[")
    if openers <= MAX_DEPTH:
        return True
    stack: list[tuple[JsonValue, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return False
        if isinstance(value, dict):
            children: Iterable[JsonValue] = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return True


class Record(msgspec.Struct):
    """A fully decoded event line: the parsed object plus its instant.

    ``fragment``: the line was found after a fragment a killed writer left (which readers
    that count lines count as one more invalid line). A msgspec struct: built in C, a
    third of a dataclass's cost, and readers build one per line.
    """

    data: JsonObject
    t: float
    fragment: bool = False

    @property
    def kind(self) -> str:
        return cast(str, self.data["kind"])  # a valid record's kind is a non-empty string

    @property
    def symbol(self) -> str:
        symbol = self.data.get("symbol")
        return symbol if isinstance(symbol, str) else ""

    @property
    def session_id(self) -> str:
        sid = self.data.get("session_id")
        return sid if isinstance(sid, str) else ""

    @property
    def payload(self) -> JsonObject:
        payload = self.data.get("payload")
        return payload if isinstance(payload, dict) else {}


_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError
_fromisoformat = datetime.fromisoformat
_DIGITS = frozenset("0123456789")


def _msgspec_instant(ts: str) -> datetime | None:
    """``ts`` read as the typed decoders read it (msgspec), else None."""
    try:
        return msgspec.convert(ts, datetime)
    except msgspec.ValidationError:
        return None


def decode_whole(line: bytes) -> tuple[JsonObject, datetime] | None:
    """The object and instant of ``line`` when it is valid as a whole, else None.

    The rule of the module docstring, in one body: every reader that decodes whole lines
    calls this for each line, so the common path calls nothing in Python.
    """
    try:
        data = _loads(line)
    except _JSONDecodeError:
        return None
    if type(data) is not dict:  # orjson builds exact dicts, strs, lists
        return None
    kind = data.get("kind")
    if type(kind) is not str or not kind:
        return None
    ts = data.get("ts")
    if type(ts) is not str:
        return None
    try:
        dt = _fromisoformat(ts)
    except ValueError:
        found = _msgspec_instant(ts)  # the forms only msgspec reads ("...t12:00:01z")
        if found is None:
            return None
        dt = found
    else:
        if len(ts) > 26 and ts[26] in _DIGITS:  # more than 6 decimals: msgspec rounds
            dt = _msgspec_instant(ts) or dt
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    if not EARLIEST <= dt < LATEST:
        return None
    # A line without ``[`` and with at most two ``{`` (in strings or not) whose payload is
    # an object holds no array and no object but itself and its payload: no naming field
    # can be one, and it nests 2 deep. Every line our logger writes is such a line, and is
    # cleared by three ``find``s (memchr). Anything else is checked field by field.
    payload = data.get("payload")
    if (
        type(payload) is not dict
        or line.find(b"[") >= 0
        or line.find(b"{", line.find(b"{", 1) + 1) >= 0
    ) and not (names_are_scalars(kind, data, payload) and depth_ok(line, data)):
        return None
    return data, dt


def _decode(line: bytes) -> tuple[JsonObject, datetime, int] | None:
    """:func:`decode_whole` and 0, else the valid line glued to a fragment and where it
    starts in ``line``."""
    whole = decode_whole(line)
    if whole is not None:
        return whole[0], whole[1], 0
    return decode_after_fragment(line)


def decode_after_fragment(line: bytes) -> tuple[JsonObject, datetime, int] | None:
    """The valid line a fragment is glued to in ``line`` and where it starts, else None."""
    end = len(line)
    for _ in range(_RECOVERY_TRIES):
        start = line.rfind(LINE_START, 1, end)
        if start < 0:
            return None
        found = decode_whole(line[start:])
        if found is not None:
            return found[0], found[1], start
        end = start + len(LINE_START) - 1
    return None


def decode_record(line: bytes) -> Record | None:
    """Decode one line fully; ``None`` when it is not a valid event (nor ends in one
    after a fragment: the record then says ``fragment``)."""
    whole = decode_whole(line)
    if whole is not None:
        return Record(whole[0], whole[1].timestamp())
    found = decode_after_fragment(line)
    if found is None:
        return None
    data, ts, _start = found
    return Record(data, ts.timestamp(), True)


# A JSON value that is not an array or an object: the type of the fields that name things.
# Integers are bounded so that the typed decoders leave odd ones to decode_record, whose
# reading (orjson) is the rule.
Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
Scalar = str | Int64 | float | bool | None
# Fields of every event, and of an event's payload by kind (from the schema), that readers
# group or pair by: a line where one is an array or an object is invalid.
NAME_FIELDS = ("session_id", "symbol")
KIND_NAME_FIELDS: dict[str, tuple[str, ...]] = schema.KIND_NAME_FIELDS
PAYLOAD_NAME_FIELDS: tuple[str, ...] = schema.PAYLOAD_NAME_FIELDS


def names_are_scalars(kind: str, data: Mapping[str, JsonValue], payload: JsonValue) -> bool:
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


# The payload keys analytics read, and every other key the schema declares (for any kind,
# in the schema's order), typed as scalars, so the fast decoder judges them; any other key
# takes the slow path.
if TYPE_CHECKING:
    # What a type checker sees: the fields are built from the schema at import time, each a
    # Scalar (defaulting to None).

    class ScanPayload(msgspec.Struct, gc=False, forbid_unknown_fields=True):
        def __getattr__(self, name: str) -> Scalar: ...

else:
    ScanPayload = msgspec.defstruct(
        "ScanPayload",
        [(name, Scalar, None) for name in schema.PAYLOAD_KEYS],
        module=__name__,
        gc=False,
        forbid_unknown_fields=True,
    )


EMPTY_PAYLOAD = ScanPayload()
_SCAN_FIELDS = ScanPayload.__struct_fields__


class ScanRecord(msgspec.Struct, gc=False, kw_only=True, forbid_unknown_fields=True):
    """The fields of an event line that scans and analytics use.

    ``ts`` is always timezone-aware and ``kind`` a non-empty string: the fast decoder
    rejects anything else (naive times, other ISO forms, mistyped fields, keys our logger
    does not write) with a ``ValidationError``, and such lines take the slower path with
    the rules of :func:`decode_record`. Instants are compared as datetimes; :attr:`t`
    converts.
    """

    ts: Annotated[datetime, msgspec.Meta(tz=True)]
    session_id: Scalar = None
    symbol: Scalar = None
    mode: Scalar = None
    kind: Annotated[str, msgspec.Meta(min_length=1)]
    payload: ScanPayload | None = None
    seq: Scalar = None
    event_id: Scalar = None
    mono_ns: Scalar = None

    @property
    def t(self) -> float:
        """POSIX seconds of ``ts``."""
        return self.ts.timestamp()


scan_decoder = msgspec.json.Decoder(ScanRecord)


def decode_scan(line: bytes) -> ScanRecord | None:
    """Decode the fields analytics need; ``None`` when the line is not a valid event.

    Undecodable bytes need no check of their own: msgspec and orjson reject them, and a
    valid line glued to a fragment cut inside a character is recovered, as by
    :func:`decode_record`."""
    try:
        rec = scan_decoder.decode(line)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        return scan_line(line)[0]
    if not in_range(rec.ts):
        return None
    if rec.payload is None:
        rec.payload = EMPTY_PAYLOAD
    return rec


def decode_scan_slow(line: bytes) -> ScanRecord | None:
    """:func:`decode_scan` for lines the typed decoders reject (no UTF-8 check here)."""
    return scan_line(line)[0]


def scan_line(line: bytes) -> tuple[ScanRecord | None, bool]:
    """The slow path of the scans: the record by :func:`decode_record`'s rules, and
    whether it followed a fragment (one more invalid line for the caller to count)."""
    found = _decode(line)
    if found is None:
        return None, False
    data, ts, start = found
    raw = data.get("payload")
    payload = EMPTY_PAYLOAD
    if isinstance(raw, dict):
        # Naming fields this kind does not use are cleared when they are arrays or
        # objects (so one odd field cannot empty the rest of the payload).
        payload = ScanPayload(
            **{
                k: (None if k in PAYLOAD_NAME_FIELDS and isinstance(v, (list, dict)) else v)
                for k in _SCAN_FIELDS
                if (v := raw.get(k)) is not None
            }
        )
    # ts keeps the exact instant (and offset) parsed: no round trip through float seconds.
    # The validity rule made the naming fields scalars; the others are passed on as decoded,
    # exactly as before the fast decoder existed (readers narrow them).
    get = data.get
    rec = ScanRecord(
        ts=ts,
        session_id=cast(Scalar, get("session_id")),
        symbol=cast(Scalar, get("symbol")),
        mode=cast(Scalar, get("mode")),
        kind=cast(str, data["kind"]),
        payload=payload,
        seq=cast(Scalar, get("seq")),
        event_id=cast(Scalar, get("event_id")),
        mono_ns=cast(Scalar, get("mono_ns")),
    )
    return rec, start > 0


def valid_start(line: bytes) -> tuple[datetime, int] | None:
    """For readers that keep a line's text (``telemetry-sql``): the instant of the valid
    event in ``line`` and where it starts (0, or after a fragment), else None."""
    try:
        rec = scan_decoder.decode(line)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        found = _decode(line)
        return None if found is None else (found[1], found[2])
    return (rec.ts, 0) if in_range(rec.ts) else None


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

    def as_dict(self) -> JsonObject:
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
