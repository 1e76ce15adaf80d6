"""Export downloads: ``GET /api/export`` streams a session or a filtered query as a file.

CSV and JSON lines stream as they are read (constant memory, the first bytes arrive at
once). Excel and Parquet are containers that must be finished before they can be sent:
each is built by a child process in a private scratch directory (never a path from the
request), then sent from an open handle after the directory is gone
(:mod:`src.webui.export_builds`). A client that disconnects, or a server told to stop,
kills its build; at most ``max_export_builds`` run at once, and one more gets ``503`` with
``Retry-After``. Parquet over HTTP is one file with ``date`` and ``session_id`` columns;
the partitioned dataset is the CLI's (``telemetry-export --format parquet``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import IO, Annotated, Literal

import anyio
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response, StreamingResponse

from src.export.run import stream_chunks
from src.webui.deps import EventQuery, event_query, settings_of
from src.webui.export_builds import BuildFailed, BuildsBusy, BuildStopped, ExportBuilds
from src.webui.models import error_responses

router = APIRouter()
log = logging.getLogger("src.webui")

ExportFormat = Literal["csv", "jsonl", "xlsx", "parquet"]
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
}


class Download(StreamingResponse):
    media_type = MEDIA_TYPES["csv"]


@router.get(
    "/api/export",
    response_class=Download,
    responses={
        200: {
            "description": "the file, as an attachment",
            "content": {t: {"schema": {"type": "string"}} for t in MEDIA_TYPES.values()},
        },
        **error_responses(
            {
                400: "a parameter is not valid",
                404: "no such session",
                500: "the Excel/Parquet build failed",
                503: "too many Excel/Parquet builds at once, or the build was stopped",
            },
            explicit=True,
        ),
    },
)
async def export_events(
    request: Request,
    query: Annotated[EventQuery, Depends(event_query)],
    format: ExportFormat = "csv",
) -> Response:
    """Every matching event (no limit) as a csv, jsonl, xlsx or parquet download."""
    settings = settings_of(request)
    base = settings.base_path
    flt = query.flt
    name = f"{query.session_id or 'telemetry'}{'-' + query.type if query.type else ''}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if format in ("csv", "jsonl"):
        return StreamingResponse(
            stream_chunks(base, flt, format), media_type=MEDIA_TYPES[format], headers=headers
        )
    builds: ExportBuilds = request.app.state.exports
    try:
        build = await anyio.to_thread.run_sync(builds.start, base, flt, format)
    except BuildsBusy as exc:
        raise HTTPException(
            status_code=503,
            detail=str(exc),
            headers={"Retry-After": str(settings.export_retry_after_s)},
        ) from None
    try:
        await build.wait(request)
        fh, size = build.open_result()
    except BuildStopped as exc:
        log.warning("export %s cancelled (%s); build stopped", name, exc)
        raise HTTPException(status_code=503, detail=f"export cancelled: {exc}") from None
    except BuildFailed as exc:
        log.error("export %s failed: %s", name, exc)
        raise HTTPException(status_code=500, detail=f"export failed: {exc}") from None
    finally:
        # Also after success: the open handle keeps the data readable once the directory
        # is gone, so nothing is left behind if the download is cut short.
        await anyio.to_thread.run_sync(build.close)
    headers["Content-Length"] = str(size)
    return StreamingResponse(_send(fh), media_type=MEDIA_TYPES[format], headers=headers)


async def _send(fh: IO[bytes], chunk: int = 1 << 20) -> AsyncIterator[bytes]:
    try:
        while data := await anyio.to_thread.run_sync(fh.read, chunk):
            yield data
    finally:
        fh.close()
