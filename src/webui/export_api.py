"""Export downloads: ``GET /api/export`` streams a session or a filtered query as a file.

CSV and JSON lines stream as they are read (constant memory, the first bytes arrive at
once). Excel and Parquet are containers that must be finished before they can be sent:
they are built in a private temporary directory (never a path from the request), sent,
then deleted. Parquet over HTTP is one file with ``date`` and ``session_id`` columns; the
partitioned dataset is the CLI's (``telemetry-export --format parquet``).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from src.export.run import matching_events, stream_chunks
from src.query.filters import EventFilter
from src.webui.deps import EventQuery, event_query, settings_of

router = APIRouter()

ExportFormat = Literal["csv", "jsonl", "xlsx", "parquet"]
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
}


@router.get("/api/export")
def export_events(
    request: Request,
    query: Annotated[EventQuery, Depends(event_query)],
    format: ExportFormat = "csv",
) -> Response:
    """Every matching event (no limit) as a csv, jsonl, xlsx or parquet download."""
    base = settings_of(request).base_path
    flt = query.flt
    name = f"{query.session_id or 'telemetry'}{'-' + query.type if query.type else ''}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if format in ("csv", "jsonl"):
        return StreamingResponse(
            stream_chunks(base, flt, format), media_type=MEDIA_TYPES[format], headers=headers
        )
    scratch = Path(tempfile.mkdtemp(prefix="telemetry-export-"))
    try:
        path = _build(base, flt, format, scratch / f"export.{format}")
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return FileResponse(
        path,
        media_type=MEDIA_TYPES[format],
        headers=headers,
        background=BackgroundTask(shutil.rmtree, scratch, ignore_errors=True),
    )


def _build(base: Path, flt: EventFilter, fmt: str, path: Path) -> Path:
    if fmt == "xlsx":
        from src.export import export

        export(base, flt, "xlsx", path)
        return path
    from src.export.parquet import ParquetFileWriter

    writer = ParquetFileWriter(str(path))
    for session_id, rec in matching_events(base, flt):
        writer.write(session_id, rec)
    writer.close()
    return path
