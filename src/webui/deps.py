"""Request-level helpers: settings, validated session ids, capped limits, event filters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import HTTPException, Query, Request

from src.execution.schema import EventKind
from src.execution.session_ids import validate_session_id
from src.query.files import session_files
from src.query.filters import EventFilter
from src.webui.settings import WebSettings

__all__ = [
    "EventQuery",
    "KindParam",
    "cap_limit",
    "event_query",
    "existing_session",
    "settings_of",
    "valid_session_id",
]

KindParam = EventKind  # the schema's kinds


def settings_of(request: Request) -> WebSettings:
    return request.app.state.settings


def valid_session_id(session_id: str) -> str:
    """400 with the reason for an unsafe id (never touches the filesystem)."""
    try:
        return validate_session_id(session_id)
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None


def existing_session(request: Request, session_id: str) -> str:
    """A valid id with at least one log file, else 400 / 404."""
    valid_session_id(session_id)
    if session_files(settings_of(request).base_path, session_id) is None:
        raise HTTPException(
            status_code=404, detail=f"no execution log found for session {session_id!r}"
        )
    return session_id


def cap_limit(request: Request, limit: int | None, default: int) -> int:
    settings = settings_of(request)
    return min(limit if limit is not None else default, settings.max_limit)


@dataclass(frozen=True)
class EventQuery:
    """The event-selecting query parameters as given, and the filter they make."""

    session_id: str | None
    type: str | None
    symbol: str | None
    start: str | None
    end: str | None
    flt: EventFilter

    def echo(self) -> dict[str, Any]:
        """The parameters under their query names."""
        return {
            "session_id": self.session_id,
            "type": self.type,
            "symbol": self.symbol,
            "from": self.start,
            "to": self.end,
        }


def event_query(
    request: Request,
    session_id: str | None = None,
    type: KindParam | None = None,
    symbol: Annotated[str | None, Query(max_length=64)] = None,
    start: Annotated[str | None, Query(alias="from", max_length=64)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=64)] = None,
) -> EventQuery:
    """Dependency: ``session_id`` (400 unsafe, 404 unknown), ``type``, ``symbol``, ``from``
    and ``to`` (422 for a time that does not parse)."""
    if session_id is not None:
        existing_session(request, session_id)
    try:
        flt = EventFilter.build(
            session_id=session_id, kind=type, symbol=symbol, start=start, end=end
        )
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    return EventQuery(session_id, type, symbol, start, end, flt)
