"""HTML routes: sessions index, session page (stats, charts, table, live updates), login."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from src.execution.schema import KINDS, EventKind
from src.query.engine import tail
from src.query.filters import EventFilter
from src.query.timeline import row_from_record
from src.webui import charts
from src.webui.auth import COOKIE, token_ok
from src.webui.deps import cap_limit, existing_session, settings_of
from src.webui.live import encode_position, newest_plain_file

router = APIRouter()
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> Response:
    rows = request.app.state.index.describe()
    alerts = request.app.state.alerts.snapshot()
    return templates.TemplateResponse(request, "index.html", {"sessions": rows, "alerts": alerts})


@router.get("/live/execution/{session_id}", response_class=HTMLResponse)
def session_page(
    request: Request,
    session_id: str,
    kind: EventKind | None = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
    before: Annotated[str | None, Query(max_length=400)] = None,
) -> Response:
    existing_session(request, session_id)
    settings = settings_of(request)
    n = cap_limit(request, limit, settings.default_limit)
    newest = newest_plain_file(settings.base_path, session_id)
    position = None
    if newest is not None:
        position = encode_position(
            newest.relative_to(settings.base_path).as_posix(), newest.stat().st_size
        )
    try:  # the path the JSON API takes (the newest page is kept live between requests)
        page, cursor = request.app.state.heads.page(session_id, kind, n, before)
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    summary = request.app.state.summaries.summary(session_id)
    rows = [row for row, _ in page]
    context: dict[str, Any] = {
        "session_id": session_id,
        "summary": summary,
        "kinds": KINDS,
        "kind": kind,
        "limit": n,
        "rows": [(r, json.dumps(r.details, indent=2, sort_keys=True, default=str)) for r in rows],
        "next_cursor": cursor,
        "paged": before is not None,
        "position": position,
        "charts": chart_markup(request, session_id),
        "alerts": request.app.state.alerts.snapshot(session_id),
    }
    return templates.TemplateResponse(request, "session.html", context)


@router.get("/live/execution/{session_id}/charts", response_class=HTMLResponse)
def session_charts(request: Request, session_id: str) -> Response:
    existing_session(request, session_id)
    return templates.TemplateResponse(
        request, "charts.html", {"charts": chart_markup(request, session_id)}
    )


def chart_markup(request: Request, session_id: str) -> list[Any]:
    base = settings_of(request).base_path
    recent = [
        row_from_record(r).to_dict()
        for r in tail(base, EventFilter.build(session_id=session_id), 2000)
    ]
    samples = request.app.state.summaries.get(session_id).samples()
    return [
        charts.events_over_time(recent),
        charts.histogram(samples.intent_to_order, "Latency intent->order", "ms"),
        charts.histogram(samples.order_to_fill, "Latency order->fill", "ms"),
        charts.slippage_series(samples.slippage),
    ]


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    return templates.TemplateResponse(request, "login.html", {"error": None})


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, token: Annotated[str, Form()]) -> Response:
    expected = settings_of(request).token
    if expected is None or not token_ok(token, expected):
        return templates.TemplateResponse(
            request, "login.html", {"error": "wrong token"}, status_code=401
        )
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
    return response
