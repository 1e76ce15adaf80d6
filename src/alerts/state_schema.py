"""The alert state file's schema: every field typed, so a bad file is refused whole at load.

The engine, the delivery workers, ``telemetry-alerts list`` and the dashboard index into the
state (``rec["status"]``, ``item["channel"]``, ``ack["until"]`` ...). A file of the right
outline but wrong contents (an alert that is a number, an outbox item without a channel, a
payload nested thousands deep) would make each of them fail somewhere else; decoding through
these msgspec Structs checks everything in one pass and names the first bad field
(``$.outbox[0]``: ``Object missing required field `channel```). Fields the code can do
without get defaults, which the decoded state then carries explicitly; unknown fields are
dropped.

The rest of the code keeps working on plain dicts: :func:`decode_state` returns builtins.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

__all__ = ["FORMAT_VERSION", "LAST_TIME", "InvalidState", "decode_state", "encode_state"]

FORMAT_VERSION = 1

# A time in the state (epoch seconds) is one a datetime can show: 1970 to the end of 9999.
LAST_TIME = 253402300799.0
Time = Annotated[float, msgspec.Meta(ge=0, le=LAST_TIME)]

Severity = Literal["ok", "warning", "critical"]
Status = Literal["pending", "firing", "resolved"]


class InvalidState(ValueError):
    """The bytes are not a state file of this version; the message names the bad field."""


class _Ack(msgspec.Struct, kw_only=True):
    by: str | None = None
    at: Time | None = None
    until: Time | None = None
    note: str | None = None


class _Alert(msgspec.Struct, kw_only=True):
    key: str
    rule: str
    session_id: str
    subject: str = ""
    status: Status
    severity: Severity
    message: str = ""
    value: float | None = None
    threshold: float | None = None
    since: Time
    fired_at: Time | None = None
    resolved_at: Time | None = None
    updated_at: Time | None = None
    announced: Severity | None = None
    notified_at: Time | None = None
    fire_notified_at: Time | None = None
    notifications: int = 0
    ack: _Ack | None = None
    held: str | None = None

    def __post_init__(self) -> None:
        if self.status == "resolved" and self.resolved_at is None:
            raise ValueError("a resolved alert needs `resolved_at`")


class _Silence(msgspec.Struct, kw_only=True):
    id: str
    pattern: str
    until: Time
    by: str = ""
    reason: str = ""
    created_at: Time | None = None


class _Notification(msgspec.Struct, kw_only=True):
    id: str
    event: str
    key: str
    rule: str
    session_id: str
    subject: str = ""
    severity: Severity
    status: str = ""
    message: str = ""
    value: float | None = None
    threshold: float | None = None
    at: Time
    fired_at: Time | None = None
    resolved_at: Time | None = None
    acked_by: str | None = None


class _OutboxItem(msgspec.Struct, kw_only=True):
    id: str
    channel: str
    notification: _Notification
    created_at: Time | None = None


class _LastFailure(msgspec.Struct, kw_only=True):
    at: Time | None = None
    id: str = ""
    key: str = ""
    outcome: str = ""


class _ChannelStats(msgspec.Struct, kw_only=True, omit_defaults=True):
    ok: int = 0
    failed: int = 0
    dropped: int = 0
    last_failure: _LastFailure | None = None


class _State(msgspec.Struct, kw_only=True):
    version: Literal[1]
    updated_at: Time | None = None
    evaluated_at: Time | None = None
    seq: int = 0
    alerts: dict[str, _Alert]
    silences: list[_Silence]
    outbox: list[_OutboxItem]
    delivery: dict[str, _ChannelStats] = {}


_decoder = msgspec.json.Decoder(_State)


def decode_state(raw: bytes) -> dict[str, Any]:
    """The state in ``raw`` as plain dicts; :class:`InvalidState` says what is wrong."""
    try:
        state = _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise InvalidState(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise InvalidState(f"not JSON ({exc})") from None
    except RecursionError:
        raise InvalidState("nested too deeply") from None
    return msgspec.to_builtins(state)


def encode_state(state: dict[str, Any]) -> bytes:
    """The state as one line of JSON, keys sorted (NaN and infinities become null)."""
    return msgspec.json.encode(state, order="sorted") + b"\n"
