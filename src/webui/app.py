"""The live execution dashboard (FastAPI).

``create_app(base_path=...)`` builds an app; the module-level ``app`` reads its settings
from config/execution.toml and the environment, for ``uvicorn src.webui.app:app``. Run it
with ``telemetry-dashboard`` (see :mod:`src.webui.server`), which refuses to bind beyond
loopback without an access token. However it is served, the app itself answers only
loopback requests unless a token is set (:mod:`src.webui.auth`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from src.webui.alerts import AlertBoard
from src.webui.alerts import router as alerts_router
from src.webui.api import router as api_router
from src.webui.auth import AccessMiddleware
from src.webui.export_api import router as export_router
from src.webui.export_builds import ExportBuilds, remove_stale_scratch
from src.webui.live import FeedHub
from src.webui.metrics import RequestMetricsMiddleware, WebMetrics
from src.webui.models import publish_error_bodies
from src.webui.pages import router as page_router
from src.webui.pages import templates
from src.webui.sessions import SessionIndex
from src.webui.settings import WebSettings
from src.webui.shutdown import on_exit_signal
from src.webui.state import HeadCache, PageCache, SummaryCache

__all__ = ["app", "create_app", "stop_serving"]


def create_app(
    base_path: str | os.PathLike[str] | None = None, *, settings: WebSettings | None = None
) -> FastAPI:
    """A dashboard over the logs under ``base_path`` (or ``settings.base_path``)."""
    if settings is None:
        settings = WebSettings()
    if base_path is not None:
        settings = WebSettings(**{**settings.__dict__, "base_path": Path(base_path)})

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(remove_stale_scratch)
        # The server drains requests before this lifespan ends: long work must hear of the
        # stop at the signal. Export builds are killed; ``app.state.stopping`` tells any
        # other long response (a live stream) to end.
        undo = on_exit_signal(lambda: stop_serving(app))
        try:
            yield
        finally:
            undo()
            stop_serving(app)
            await app.state.hub.close()
            await run_in_threadpool(app.state.metrics.close)  # saves the /metrics state

    # /docs is served by the pages router from the app's own copy of Swagger UI (works
    # offline); ReDoc, which would load from a CDN, is not offered.
    app = FastAPI(
        title="Execution telemetry",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.summaries = SummaryCache(settings)
    app.state.pages = PageCache(settings)  # the order blotter's pages
    app.state.heads = HeadCache(settings)
    app.state.index = SessionIndex(settings.base_path)
    app.state.alerts = AlertBoard(settings.alerts_state)
    app.state.metrics = WebMetrics(settings.base_path)
    app.state.exports = ExportBuilds(settings.max_export_builds)
    app.state.stopping = threading.Event()
    app.state.hub = FeedHub(
        settings.base_path,
        poll_interval=settings.poll_interval_s,
        queue_size=settings.client_queue_size,
    )
    app.add_middleware(AccessMiddleware, token=settings.token or None)

    app.add_middleware(RequestMetricsMiddleware, metrics=app.state.metrics)  # outermost

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if _wants_html(request):
            return templates.TemplateResponse(
                request,
                "error.html",
                {"status": exc.status_code, "detail": exc.detail},
                status_code=exc.status_code,
                headers=exc.headers,
            )
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors()
        )
        if _wants_html(request):
            return templates.TemplateResponse(
                request, "error.html", {"status": 422, "detail": problems}, status_code=422
            )
        return JSONResponse({"detail": problems}, status_code=422)

    app.include_router(api_router)
    app.include_router(alerts_router)
    app.include_router(export_router)
    app.include_router(page_router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    _publish_error_bodies(app)
    return app


def _publish_error_bodies(app: FastAPI) -> None:
    """``/openapi.json`` describes the error bodies the handlers above really send."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()  # FastAPI's own, which it keeps in app.openapi_schema
            publish_error_bodies(schema, _wants_html_path)
            return schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def stop_serving(app: FastAPI) -> None:
    """End the app's long responses (export builds, live streams) so that the server, which
    waits for open responses before it exits, can stop at once. Call it when (or before)
    telling the server to exit; safe from any thread and from a signal handler."""
    app.state.stopping.set()
    app.state.exports.stop_all()
    app.state.hub.stop()
    app.state.summaries.close()  # the charts' background reads


def _wants_html(request: Request) -> bool:
    return _wants_html_path(request.url.path)


def _wants_html_path(path: str) -> bool:
    return not path.startswith(("/api/", "/metrics", "/healthz"))


class _LazyApp:
    """``uvicorn src.webui.app:app`` support without reading config at import time."""

    _app: FastAPI | None = None

    async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        if self._app is None:
            self._app = create_app(settings=WebSettings.from_environment())
        await self._app(scope, receive, send)


app = _LazyApp()
