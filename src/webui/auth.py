"""Access token for a dashboard served beyond loopback: bearer header or login cookie."""

from __future__ import annotations

import hmac

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

__all__ = ["COOKIE", "TokenMiddleware", "token_ok"]

COOKIE = "telemetry_token"
_OPEN_PATHS = ("/healthz", "/login", "/static/")


def token_ok(presented: str | None, expected: str) -> bool:
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())


class TokenMiddleware(BaseHTTPMiddleware):
    def __init__(self, app, token: str) -> None:  # type: ignore[no-untyped-def]
        super().__init__(app)
        self.token = token

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        path = request.url.path
        if path.startswith(_OPEN_PATHS):
            return await call_next(request)
        header = request.headers.get("authorization", "")
        bearer = header[7:] if header.lower().startswith("bearer ") else None
        if token_ok(bearer, self.token) or token_ok(request.cookies.get(COOKIE), self.token):
            return await call_next(request)
        if path.startswith(("/api/", "/metrics")):
            return JSONResponse(
                {"detail": "access token required"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return RedirectResponse("/login", status_code=303)
