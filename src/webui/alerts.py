"""The alerts panel: active and recent alerts read from the alert engine's state file.

The dashboard does not run the engine; it reads the state file ``telemetry-alerts`` keeps
(replaced atomically, so always whole), re-parsing it only when its size or mtime changed.
A missing file means the engine has not run here yet; an evaluation older than
``STALE_AFTER_S`` is flagged, since a dead engine pages nobody. A file that is not a valid
state file (checked field by field, as the engine checks it) is shown as that error in the
panel and in ``/api/alerts``, never as a failed page.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from src.alerts.format import iso
from src.alerts.lifecycle import open_alerts
from src.alerts.state import StateError, load_state, read_raw
from src.common.units import human_duration
from src.webui.deps import valid_session_id
from src.webui.models import AlertsSnapshot, error_responses

__all__ = ["AlertBoard", "router"]

STALE_AFTER_S = 300.0
RECENT_MAX = 20

router = APIRouter()


class AlertBoard:
    """Snapshots of one state file for the pages and the API."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._key: tuple[int, int] | None = None
        self._state: dict[str, Any] | None = None
        self._error: str | None = None

    def _load(self) -> tuple[dict[str, Any] | None, str | None]:
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return None, None
        except OSError as exc:
            return None, f"cannot read {self.path}: {exc.strerror}"
        key = (st.st_mtime_ns, st.st_size)
        with self._lock:
            if key == self._key:
                return self._state, self._error
        try:
            raw = read_raw(self.path)  # a FIFO never hangs it, a huge file is not read
            state: dict[str, Any] | None = None if raw is None else load_state(raw, self.path)
            error = None
        except StateError as exc:
            # The engine moves such a file aside at its next evaluation; until then say so.
            state, error = None, str(exc)
        with self._lock:
            self._key, self._state, self._error = key, state, error
        return state, error

    def snapshot(
        self, session_id: str | None = None, *, now: float | None = None
    ) -> dict[str, Any]:
        """Active (pending/firing) and recently resolved alerts, optionally of one session."""
        now = time.time() if now is None else now
        state, error = self._load()
        out: dict[str, Any] = {
            "available": state is not None,
            "error": error,
            "state_path": str(self.path),
            "session_id": session_id,
            "evaluated_at": None,
            "evaluated_ago": None,
            "stale": False,
            "active": [],
            "recent": [],
            "silences": [],
        }
        if state is None:
            return out
        evaluated = state.get("evaluated_at")
        if evaluated:
            out["evaluated_at"] = iso(evaluated)
            out["evaluated_ago"] = human_duration(max(0.0, now - evaluated))
            out["stale"] = now - evaluated > STALE_AFTER_S

        def mine(rec: dict[str, Any]) -> bool:
            return session_id is None or rec.get("session_id") == session_id

        out["active"] = [_row(r, now) for r in open_alerts(state, now) if mine(r)]
        resolved = [
            r for r in state["alerts"].values() if r.get("status") == "resolved" and mine(r)
        ]
        resolved.sort(key=lambda r: -(r.get("resolved_at") or 0))
        out["recent"] = [_row(r, now) for r in resolved[:RECENT_MAX]]
        out["silences"] = [
            {**s, "until_iso": iso(s["until"]), "left": human_duration(s["until"] - now)}
            for s in state.get("silences", [])
            if s.get("until", 0) > now
        ]
        return out


def _row(rec: dict[str, Any], now: float) -> dict[str, Any]:
    since = rec.get("fired_at") or rec.get("since") or now
    row = {
        "key": rec["key"],
        "rule": rec.get("rule", ""),
        "session_id": rec.get("session_id", ""),
        "subject": rec.get("subject", ""),
        "severity": rec.get("severity", "warning"),
        "status": rec.get("status", ""),
        "message": rec.get("message", ""),
        "since": iso(since),
        "age": human_duration(max(0.0, now - since)),
        "resolved_at": iso(rec.get("resolved_at")) if rec.get("resolved_at") else None,
        "acked": bool(rec.get("acked")),
        "acked_by": (rec.get("ack") or {}).get("by"),
        "ack_note": (rec.get("ack") or {}).get("note"),
        "snoozed": bool(rec.get("snoozed")),
        "held": rec.get("held"),
    }
    return row


def board_of(request: Request) -> AlertBoard:
    return request.app.state.alerts


@router.get(
    "/api/alerts",
    response_model=AlertsSnapshot,
    responses=error_responses({400: "the session id is not valid"}),
)
async def api_alerts(
    request: Request, session_id: Annotated[str | None, Query(max_length=200)] = None
) -> Response:
    """Active and recent alerts from the alert engine's state file (optionally one session).

    Sent as built (the model documents it): an odd value in a state file must not turn
    the panel's API into a failed request."""
    if session_id is not None:
        valid_session_id(session_id)
    snapshot = await run_in_threadpool(board_of(request).snapshot, session_id)
    return Response(orjson.dumps(snapshot, default=str), media_type="application/json")


@router.get("/alerts/panel", response_class=HTMLResponse)
async def alerts_panel(
    request: Request, session_id: Annotated[str | None, Query(max_length=200)] = None
) -> Response:
    """The panel's HTML alone, for the pages to refresh it in place."""
    from src.webui.pages import templates

    if session_id is not None:
        valid_session_id(session_id)
    snapshot = await run_in_threadpool(board_of(request).snapshot, session_id)
    return templates.TemplateResponse(request, "alerts_panel.html", {"alerts": snapshot})
