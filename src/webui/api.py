"""JSON routes: timeline + summary, telemetry query (JSON/CSV), live stream, health, metrics."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from typing import Annotated, Any, Literal

import msgspec
import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from src.common.cells import csv_cell, escape_cell
from src.query.engine import tail
from src.query.records import Record
from src.webui import state
from src.webui.deps import (
    EventQuery,
    KindParam,
    cap_limit,
    event_query,
    existing_session,
    settings_of,
    valid_session_id,
)
from src.webui.live import MAX_BACKLOG_BYTES, backlog_rows, decode_position
from src.webui.models import (
    Health,
    SessionInfo,
    TelemetryResponse,
    TimelineResponse,
    error_responses,
)
from src.webui.orders_api import router as orders_router

router = APIRouter()
router.include_router(orders_router)  # the order blotter's routes (src/webui/orders_api.py)

# Answers a route documents besides its 200: a bad parameter (400) or unknown session (404).
_ERRORS = {400: "a parameter is not valid", 404: "no such session"}
ERRORS = error_responses(_ERRORS)


class EventStream(StreamingResponse):
    media_type = "text/event-stream"


def _timeline(
    request: Request, session_id: str, kind: str | None, limit: int, before: str | None
) -> bytes:
    """The response body, assembled from rows encoded one by one (the newest page's rows
    are kept encoded between requests: :class:`~src.webui.state.HeadCache`, the path the
    HTML page takes too)."""
    try:
        page, cursor = request.app.state.heads.page(session_id, kind, limit, before)
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    rows = [encoded for _, encoded in page]
    summary = request.app.state.summaries.summary(session_id)
    return b"".join(
        (
            b'{"session_id":',
            _json(session_id),
            b',"timeline":[',
            b",".join(rows),
            b'],"summary":',
            _SUMMARY_JSON.encode(summary),  # dataclasses: msgspec encodes them ~3x faster
            b',"count":',
            str(len(rows)).encode(),
            b',"next_cursor":',
            _json(cursor),
            b"}",
        )
    )


def row_json(rec: Record) -> bytes:
    """One timeline row as JSON (as the timeline pages encode it)."""
    return state.render_row(rec)[1]


@router.get("/api/live/execution/{session_id}", response_model=TimelineResponse, responses=ERRORS)
def live_execution(
    request: Request,
    session_id: str,
    limit: Annotated[int | None, Query(ge=1)] = None,
    kind: KindParam | None = None,
    before: Annotated[str | None, Query(max_length=400)] = None,
) -> Response:
    """Newest events of a session (optionally one kind), its summary, and a cursor for older."""
    existing_session(request, session_id)
    n = cap_limit(request, limit, 200)
    # Built from our own types: serialised directly (the model documents it), which saves
    # re-validating ~70 KB per request. Not cached as a whole: the newest page's rows and the
    # summary are (docs/performance.md, "Dashboard": a page cache on top did not pay).
    return Response(_timeline(request, session_id, kind, n, before), media_type="application/json")


@router.get(
    "/api/telemetry",
    response_model=TelemetryResponse,
    responses={
        **ERRORS,
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
    },
)
def telemetry(
    request: Request,
    query: Annotated[EventQuery, Depends(event_query)],
    limit: Annotated[int | None, Query(ge=1)] = None,
    format: Literal["json", "csv"] = "json",
) -> Response:
    """Newest matching events across sessions (default limit 2000); ``format=csv`` downloads."""
    settings = settings_of(request)
    n = cap_limit(request, limit, settings.api_default_limit)
    records = tail(settings.base_path, query.flt, n)
    if format == "csv":
        return _csv([r.data for r in records])
    events = [r.data for r in records]
    body = {"count": len(events), "events": events, "filters": {**query.echo(), "limit": n}}
    return Response(_json(body), media_type="application/json")


_SUMMARY_JSON = msgspec.json.Encoder()


def _json(body: Any) -> bytes:
    return orjson.dumps(body, default=str, option=orjson.OPT_NON_STR_KEYS)


def _csv(events: list[dict[str, Any]]) -> Response:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["ts", "session_id", "symbol", "mode", "kind", "seq", "event_id", "payload"])
    for e in events:
        writer.writerow(
            [
                csv_cell(e.get(k))
                for k in ("ts", "session_id", "symbol", "mode", "kind", "seq", "event_id")
            ]
            + [escape_cell(json.dumps(e.get("payload"), default=str))]
        )
    return Response(
        buf.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="telemetry.csv"'},
    )


@router.get("/api/sessions", response_model=list[SessionInfo])
def sessions(request: Request) -> Response:
    """Every session: lines, size, newest event time."""
    return Response(_json(request.app.state.index.describe()), media_type="application/json")


@router.get(
    "/api/live/execution/{session_id}/stream",
    response_class=EventStream,
    responses=error_responses(_ERRORS, explicit=True),
)
async def stream(
    request: Request, session_id: str, since: str | None = Query(None, max_length=400)
) -> StreamingResponse:
    """Server-Sent Events: every event appended to the session from now (or ``since``) on."""
    valid_session_id(session_id)
    await run_in_threadpool(existing_session, request, session_id)
    hub = request.app.state.hub
    metrics = request.app.state.metrics
    sub = await hub.subscribe(session_id)
    backlog: list[dict[str, Any]] | None = []
    position = decode_position(since) if since else None
    if position:
        # At most MAX_BACKLOG_BYTES; further behind, the client is told to reload.
        base = settings_of(request).base_path
        try:
            backlog = await asyncio.to_thread(backlog_rows, base, session_id, position, sub)
        except BaseException:
            hub.unsubscribe(sub)  # no stream will: the feed must not keep its file open
            raise

    async def events():  # type: ignore[no-untyped-def]
        metrics.sse_clients.inc()
        try:
            yield "retry: 1000\n\n"
            if backlog is None:
                # Missed more than the backlog replays: reading it all is not on offer.
                yield _sse_event("reload", {"max_backlog_bytes": MAX_BACKLOG_BYTES})
                return
            for row in backlog:
                yield _sse(row)
            while True:
                try:
                    row = await asyncio.wait_for(sub.queue.get(), timeout=10)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield ": keep-alive\n\n"
                    continue
                if row is None:  # fell behind, or the server is stopping
                    if sub.dropped:
                        metrics.sse_dropped.inc()
                        yield "event: dropped\ndata: {}\n\n"
                    return
                metrics.sse_events.inc()
                yield _sse(row)
        finally:
            metrics.sse_clients.dec()
            hub.unsubscribe(sub)

    return EventStream(
        events(),
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _sse(row: dict[str, Any]) -> str:
    return _sse_event("event", row)


def _sse_event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, default=str)}\n\n"


@router.get("/healthz", response_model=Health)
def healthz(request: Request) -> Response:
    """Liveness: the log root and how many live streams are open (the server's floor: the
    body is encoded directly, the model documents it)."""
    base = settings_of(request).base_path
    body = {
        "status": "ok",
        "base_path": str(base),
        "base_path_exists": base.is_dir(),
        "live_clients": request.app.state.hub.clients,
        **request.app.state.summaries.health(),
    }
    return Response(_json(body), media_type="application/json")


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> Response:
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
