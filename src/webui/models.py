"""The JSON API's response models: what ``/openapi.json`` publishes for every JSON route.

The summary inside a timeline response is the query layer's own typed
:class:`~src.query.analytics.summary_model.Summary` (standard dataclasses; pydantic derives
its schema). Routes that assemble their body from our own types send it encoded directly
(``orjson``), without re-validating it per request; ``tests/webui/test_openapi.py``
validates every route's actual body against the published schema instead.

The order blotter's bodies are the query layer's own dataclasses too
(:mod:`src.query.orders.model`: ``OrderPage``, ``OrderChain`` and what they hold).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from src.query.analytics.summary_model import JsonScalar, Summary
from src.query.orders.model import (
    ChainStep,
    GateStep,
    OrderChain,
    OrderLatency,
    OrderPage,
    OrderRow,
)

__all__ = [
    "AlertRow",
    "AlertsSnapshot",
    "ChainStep",
    "ErrorDetail",
    "GateStep",
    "Health",
    "OrderChain",
    "OrderLatency",
    "OrderPage",
    "OrderRow",
    "SessionInfo",
    "Silence",
    "TelemetryEvent",
    "TelemetryFilters",
    "TelemetryResponse",
    "TimelineResponse",
    "TimelineRowModel",
    "error_responses",
    "publish_error_bodies",
]


class TimelineRowModel(BaseModel):
    ts: str
    kind: str
    symbol: str
    description: str
    details: dict[str, Any]
    session_id: str
    seq: int | None = None
    event_id: str | None = None


class TimelineResponse(BaseModel):
    session_id: str
    timeline: list[TimelineRowModel]
    summary: Summary
    count: int
    next_cursor: str | None = None


class TelemetryEvent(BaseModel):
    """One event as it was logged (a valid line: the spec's keys plus whatever else the
    writer added, such as ``seq``, ``event_id`` or ``mono_ns``)."""

    model_config = ConfigDict(extra="allow")

    ts: str
    session_id: JsonScalar = None
    symbol: JsonScalar = None
    mode: JsonScalar = None
    kind: str
    payload: dict[str, Any] | None = None


class TelemetryFilters(BaseModel):
    """The query parameters as given, under their query names, and the limit applied."""

    model_config = ConfigDict(populate_by_name=True)

    session_id: str | None
    type: str | None
    symbol: str | None
    from_: str | None = Field(alias="from")
    to: str | None
    limit: int


class TelemetryResponse(BaseModel):
    count: int
    events: list[TelemetryEvent]
    filters: TelemetryFilters


class SessionInfo(BaseModel):
    session_id: str
    lines: int
    files: int
    size_bytes: int
    modified: str
    last_event: str | None
    state: str  # running, idle or ended (see src/webui/sessions.py)


class Health(BaseModel):
    status: str
    base_path: str
    base_path_exists: bool
    live_clients: int
    # Sessions opened whose saved summary state could not be used (see the log).
    summary_state_errors: int = 0
    # Sessions whose charts are being built or read in the background now.
    charts_pending: int = 0
    # Chart builds that failed since the start (each logged).
    chart_build_failures: int = 0


class AlertRow(BaseModel):
    key: str
    rule: str
    session_id: str
    subject: str
    severity: str
    status: str
    message: str
    since: str
    age: str
    resolved_at: str | None
    acked: bool
    acked_by: str | None
    ack_note: str | None
    snoozed: bool
    held: Any = None


class Silence(BaseModel):
    """A silence from the state file as written, with when it ends and how long is left."""

    model_config = ConfigDict(extra="allow")

    id: str
    pattern: str
    until: float
    by: str
    reason: str
    created_at: float
    until_iso: str
    left: str


class AlertsSnapshot(BaseModel):
    available: bool
    error: str | None
    state_path: str
    session_id: str | None
    evaluated_at: str | None
    evaluated_ago: str | None
    stale: bool
    active: list[AlertRow]
    recent: list[AlertRow]
    silences: list[Silence]


class ErrorDetail(BaseModel):
    """The body of a 4xx/5xx answer."""

    detail: Any


_ERROR_JSON = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorDetail"}}}
_ERROR_HTML = {"text/html": {"schema": {"type": "string"}}}
_UNUSED = ("HTTPValidationError", "ValidationError")


def publish_error_bodies(schema: dict[str, Any], wants_html: Callable[[str], bool]) -> None:
    """Make ``schema`` (an OpenAPI document, changed in place) say what the app's error
    handlers send for a parameter that does not validate (422): ``{"detail": "<text>"}``
    on the JSON routes, the HTML error page on the pages, not FastAPI's default list."""
    for path, operations in schema.get("paths", {}).items():
        content = _ERROR_HTML if wants_html(path) else _ERROR_JSON
        for operation in operations.values():
            responses = operation.get("responses", {})
            if "422" in responses:
                responses["422"] = {"description": "a parameter is not valid", "content": content}
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("ErrorDetail", ErrorDetail.model_json_schema())
    for name in _UNUSED:
        components.pop(name, None)


def error_responses(
    descriptions: dict[int, str], *, explicit: bool = False
) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for error answers with an :class:`ErrorDetail` body. ``explicit``: for
    a route whose own media type is not JSON (a stream, a download), the JSON content is
    spelled out (another route must declare ``ErrorDetail`` as a model, so that it is in
    the schema's components)."""
    if not explicit:
        return {code: {"model": ErrorDetail, "description": d} for code, d in descriptions.items()}
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorDetail"}}}
    return {code: {"description": d, "content": content} for code, d in descriptions.items()}
