"""HTML routes: sessions index, session page (stats, charts, table, live updates), login."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from src.common.units import human_duration
from src.execution.schema import KINDS, ORDER_STATUSES, EventKind
from src.webui import charts
from src.webui.auth import COOKIE, token_ok
from src.webui.chart_index import RANGES
from src.webui.charts import format_ms
from src.webui.clock import clock, when
from src.webui.deps import cap_limit, existing_session, settings_of
from src.webui.live import encode_position, newest_plain_file
from src.webui.sessions import session_state

router = APIRouter()
# The charts' time range: the last 5 min, 15 min or hour of the session, or all of it.
ChartRange = Literal["5m", "15m", "1h", "session"]
DEFAULT_RANGE: ChartRange = "15m"
LIVE_REFRESH_S = 3  # how often the session page refreshes its cards and charts
STATIC = Path(__file__).parent / "static"
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters.update(clock=clock, when=when, ms=format_ms, duration=human_duration)


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> Response:
    rows = request.app.state.index.describe()
    alerts = request.app.state.alerts.snapshot()
    return templates.TemplateResponse(request, "index.html", {"sessions": rows, "alerts": alerts})


@router.get("/sessions/panel", response_class=HTMLResponse)
def sessions_panel(request: Request) -> Response:
    """The index's sessions table alone (the index page re-fetches it in place)."""
    rows = request.app.state.index.describe()
    return templates.TemplateResponse(request, "sessions_table.html", {"sessions": rows})


@router.get("/live/execution/{session_id}", response_class=HTMLResponse)
def session_page(
    request: Request,
    session_id: str,
    kind: EventKind | None = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
    before: Annotated[str | None, Query(max_length=400)] = None,
    range: ChartRange = DEFAULT_RANGE,
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
    rows = [row for row, _ in page]
    context: dict[str, Any] = {
        **live_context(request, session_id, range),
        "kind": kind,
        "limit": n,
        "rows": [(r, json.dumps(r.details, indent=2, sort_keys=True, default=str)) for r in rows],
        "next_cursor": cursor,
        "paged": before is not None,
        "position": position,
        "alerts": request.app.state.alerts.snapshot(session_id),
        "refresh_s": LIVE_REFRESH_S,
        "max_rows": n,  # the live table never holds more rows than the page did
        "order_statuses": ORDER_STATUSES,
    }
    return templates.TemplateResponse(request, "session.html", context)


@router.get("/live/execution/{session_id}/live", response_class=HTMLResponse)
def session_live(
    request: Request,
    session_id: str,
    range: ChartRange = DEFAULT_RANGE,
) -> Response:
    """The session page's live parts (state, cards, charts), which the page swaps in place
    every few seconds: from the incremental summary, nothing re-read from the log."""
    existing_session(request, session_id)
    return templates.TemplateResponse(
        request, "live_parts.html", live_context(request, session_id, range)
    )


@router.get("/live/execution/{session_id}/charts", response_class=HTMLResponse)
def session_charts(
    request: Request,
    session_id: str,
    range: ChartRange = DEFAULT_RANGE,
) -> Response:
    existing_session(request, session_id)
    context = live_context(request, session_id, range)
    return templates.TemplateResponse(request, "charts.html", context)


def live_context(request: Request, session_id: str, range_name: str) -> dict[str, Any]:
    """Summary, session state and charts of one session, for the templates."""
    entry = request.app.state.summaries.get(session_id)
    summary = entry.summary()
    # None while the chart index is decoded or built in the background (src/webui/summaries.py):
    # the cards are there at once, the charts say so and the page refreshes until they come.
    data = entry.charts(RANGES[range_name])
    label = "whole session" if range_name == "session" else f"last {range_name}"
    return {
        "session_id": session_id,
        "summary": summary,
        "state": session_state(settings_of(request).base_path, session_id),
        "kinds": KINDS,
        "range": range_name,
        "ranges": list(RANGES),
        "charts": None if data is None else charts.range_charts(data, label),
        "charts_state": entry.charts_state,
    }


@router.get("/docs", include_in_schema=False)
def api_docs(request: Request) -> Response:
    """Swagger UI from the app's own copy (static/swagger_ui, see its README): no CDN."""
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url or "/openapi.json",
        title=f"{request.app.title} – API",
        swagger_js_url="/static/swagger_ui/swagger-ui-bundle.js",
        swagger_css_url="/static/swagger_ui/swagger-ui.css",
        swagger_favicon_url="/static/favicon.svg",
    )


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")


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
