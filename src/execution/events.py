"""The execution event: one record per intent, gate decision, order, fill or error.

The six fields of the spec (``ts, session_id, symbol, mode, kind, payload``) are the line
format every reader relies on. ``ts`` is always kept (and so written) as a UTC instant: an
aware value is converted, and a naive one - what the spec's own ``datetime.now()`` gives -
is read as the host's local time, as Python means it (``dt.astimezone()``), then converted.
Readers of *logs* are the other way round: a naive time in a line means UTC, so
:meth:`ExecutionEvent.from_dict` attaches UTC to a naive logged value instead.

Three optional fields make the log usable for pairing and ordering: ``seq`` (per-session
sequence number), ``event_id`` (unique) and ``mono_ns`` (a monotonic clock reading, so
latencies survive wall-clock steps). Readers that only know the six spec fields ignore the
extra keys.

A replayed or imported event is a new event: :func:`copy_of` gives it its own ``event_id``
(so de-duplication by id, in the collector and in pairing, never mistakes it for the
original) and keeps the original's id in ``payload["origin_event_id"]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import cast

import msgspec

from src.execution.ids import new_event_id
from src.execution.jsontypes import JsonObject, Payload
from src.execution.schema import KINDS, MODES, SEVERITIES, EventKind, Mode

__all__ = [
    "KINDS",
    "MODES",
    "ORIGIN_EVENT_ID",
    "SEVERITIES",
    "EventKind",
    "ExecutionEvent",
    "Mode",
    "copy_of",
    "event_severity",
    "event_to_dict",
]

ORIGIN_EVENT_ID = "origin_event_id"  # payload key: the event_id a replayed/imported event had
_KIND_SET = frozenset(KINDS)
_MODE_SET = frozenset(MODES)


class ExecutionEvent(msgspec.Struct, frozen=True, gc=False):
    """One telemetry event. ``ts`` becomes UTC: an aware value is converted, a naive one is
    taken as local time (``datetime.now()``) and converted (see the module docstring).

    A frozen ``msgspec.Struct`` (assigning a field raises ``AttributeError``); change one
    with :func:`msgspec.structs.replace` (the checks and the UTC conversion run again).
    Not tracked by the garbage collector (``gc=False``): a payload must not refer back to
    its event. Building one costs a fraction of what a frozen dataclass did; the JSONL
    logger is measured against ``orjson.dumps`` + ``os.write`` in ``benchmarks/bench_emit``.
    """

    ts: datetime
    session_id: str
    symbol: str
    mode: str
    kind: str
    payload: Payload = msgspec.field(default_factory=dict)
    seq: int | None = None
    event_id: str = msgspec.field(default_factory=new_event_id)
    mono_ns: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KIND_SET:
            raise ValueError(
                f"invalid event kind {self.kind!r}: expected one of {', '.join(KINDS)}"
            )
        if self.mode not in _MODE_SET:
            raise ValueError(
                f"invalid event mode {self.mode!r}: expected one of {', '.join(MODES)}"
            )
        ts = self.ts
        # The fast path: an aware UTC datetime (datetime.now(UTC)) is kept as it is.
        if not isinstance(ts, datetime) or ts.tzinfo is not UTC:
            _set_ts(self, _as_utc(ts))

    def to_dict(self) -> JsonObject:
        """Return the JSON-ready form: the spec's six keys first, then the optional extras."""
        d: JsonObject = {
            "ts": self.ts.isoformat(),
            "session_id": self.session_id,
            "symbol": self.symbol,
            "mode": self.mode,
            "kind": self.kind,
            "payload": dict(self.payload),
        }
        if self.seq is not None:
            d["seq"] = self.seq
        d["event_id"] = self.event_id
        if self.mono_ns is not None:
            d["mono_ns"] = self.mono_ns
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ExecutionEvent:
        """Rebuild an event from :meth:`to_dict` output (or a parsed JSONL line)."""
        ts = data["ts"]
        if isinstance(ts, str):
            ts = datetime.fromisoformat(ts)
        if isinstance(ts, datetime) and ts.tzinfo is None:
            ts = ts.replace(tzinfo=UTC)  # a naive time in a log means UTC (not local time)
        payload = data.get("payload")
        seq, mono_ns = data.get("seq"), data.get("mono_ns")
        event_id = data.get("event_id")
        return cls(
            ts=cast(datetime, ts),  # __post_init__ rejects anything else, naming it
            session_id=str(data["session_id"]),
            symbol=str(data.get("symbol") or ""),
            mode=str(data.get("mode") or "paper"),
            kind=str(data["kind"]),
            payload=payload if isinstance(payload, Mapping) else {},
            seq=seq if isinstance(seq, int) else None,
            mono_ns=mono_ns if isinstance(mono_ns, int) else None,
            **({} if event_id is None else {"event_id": str(event_id)}),
        )


# Writes the slot under the frozen check: only __post_init__ uses it, on a new event.
_set_ts = ExecutionEvent.__dict__["ts"].__set__


def _as_utc(ts: object) -> datetime:
    """``ts`` as an aware UTC datetime: naive is local time (``astimezone()`` assumes so)."""
    if not isinstance(ts, datetime):
        raise ValueError(f"invalid event ts {ts!r}: expected a datetime")
    try:
        return ts.astimezone(UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"invalid event ts {ts!r}: out of the UTC range") from None


def copy_of(
    event: ExecutionEvent, event_id: str | None = None, **changes: object
) -> ExecutionEvent:
    """``event`` emitted again (a replay, an import): a new ``event_id`` (``event_id`` or a
    fresh one), the original's kept in ``payload["origin_event_id"]``; ``changes`` replace
    other fields (``session_id``, ``ts``, ...)."""
    payload = dict(event.payload)
    payload[ORIGIN_EVENT_ID] = event.event_id
    return msgspec.structs.replace(
        event, payload=payload, event_id=event_id or new_event_id(), **changes
    )


def event_to_dict(event: ExecutionEvent) -> JsonObject:
    """Functional alias of :meth:`ExecutionEvent.to_dict`."""
    return event.to_dict()


def event_severity(event: ExecutionEvent) -> str:
    """Severity used by the ``min_severity`` filter.

    An explicit ``payload["severity"]`` wins; otherwise errors are ``error``, blocking gate
    decisions and venue rejects are ``warning`` and everything else is ``info``.
    """
    explicit = event.payload.get("severity") if isinstance(event.payload, Mapping) else None
    if explicit in SEVERITIES:
        return str(explicit)
    if event.kind == "error":
        return "error"
    if event.kind == "gate" and event.payload.get("passed") is False:
        return "warning"
    if event.kind == "reject":
        return "warning"
    return "info"
