"""Request-level helpers: settings, validated session ids, capped limits."""

from __future__ import annotations

from fastapi import HTTPException, Request

from src.execution.session_ids import validate_session_id
from src.query.files import session_files
from src.webui.settings import WebSettings

__all__ = ["cap_limit", "existing_session", "settings_of", "valid_session_id"]


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
