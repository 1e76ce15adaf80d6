"""Access token for a dashboard served beyond loopback: bearer header or login cookie."""

from __future__ import annotations

import hmac

from fastapi.responses import JSONResponse, RedirectResponse
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["COOKIE", "TokenMiddleware", "token_ok"]

COOKIE = "telemetry_token"
_OPEN_PATHS = ("/healthz", "/login", "/static/")


def token_ok(presented: str | None, expected: str) -> bool:
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())


class TokenMiddleware:
    """Plain ASGI (no per-request task or body buffering): streams such as the live feed
    pass straight through once the token checks out."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_OPEN_PATHS):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        header = conn.headers.get("authorization", "")
        bearer = header[7:] if header.lower().startswith("bearer ") else None
        if token_ok(bearer, self.token) or token_ok(conn.cookies.get(COOKIE), self.token):
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith(("/api/", "/metrics")):
            response = JSONResponse(
                {"detail": "access token required"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        else:
            response = RedirectResponse("/login", status_code=303)
        await response(scope, receive, send)
