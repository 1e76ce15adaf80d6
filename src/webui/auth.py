"""Who may see the dashboard: loopback without a token, anyone with the token.

The rule is enforced on every request by the app itself (:class:`AccessMiddleware`), so it
holds however the app is served: ``telemetry-dashboard`` (which also refuses to bind beyond
loopback without a token), ``uvicorn src.webui.app:app --host 0.0.0.0``, gunicorn, a proxy.

* With a token: every request but ``/healthz``, ``/login`` and ``/static/`` must bring it
  (``Authorization: Bearer <token>`` or the login cookie), from wherever it comes.
* Without a token: a request is answered only when it arrived at a loopback address of this
  machine from a loopback client (the ASGI scope's ``server`` and ``client``); anything else
  gets ``403`` saying why. Whatever is not plainly loopback counts as remote (fail closed):
  a Unix socket (usually a proxy's upstream, so the people behind it are not known), an
  address that is not an IP, a client a trusted proxy named in ``X-Forwarded-For``.
"""

from __future__ import annotations

import hmac
import logging

from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from src.webui.settings import TOKEN_ENV, is_loopback

__all__ = ["COOKIE", "REMOTE_REFUSED", "AccessMiddleware", "is_local_request", "token_ok"]

COOKIE = "telemetry_token"
_OPEN_PATHS = ("/healthz", "/login", "/static/")
REMOTE_REFUSED = (
    "this dashboard has no access token, so it answers only on loopback (127.0.0.1, ::1); "
    f"set ${TOKEN_ENV} to serve it on other addresses"
)
log = logging.getLogger("src.webui")


def token_ok(presented: str | None, expected: str) -> bool:
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())


def _local(address: object) -> bool:
    if isinstance(address, (tuple, list)) and len(address) == 2:
        host = address[0]
        return isinstance(host, str) and is_loopback(host, allow_names=False)
    return False  # None: a Unix socket, or a server that does not say


def is_local_request(scope: Scope) -> bool:
    """Did this connection arrive at a loopback address from a loopback client?"""
    return _local(scope.get("server")) and _local(scope.get("client"))


def _is_api(path: str) -> bool:
    return path.startswith(("/api/", "/metrics", "/healthz"))


class AccessMiddleware:
    """Plain ASGI (no per-request task or body buffering): streams such as the live feed
    pass straight through once the request is allowed."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token
        self._warned = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)  # lifespan
            return
        if self.token is None:
            if is_local_request(scope):
                await self.app(scope, receive, send)
            else:
                await self._refuse_remote(scope, receive, send)
            return
        if scope["path"].startswith(_OPEN_PATHS) or self._has_token(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if _is_api(scope["path"]):
            response = JSONResponse(
                {"detail": "access token required"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        else:
            response = RedirectResponse("/login", status_code=303)
        await response(scope, receive, send)

    def _has_token(self, scope: Scope) -> bool:
        assert self.token is not None
        conn = HTTPConnection(scope)
        header = conn.headers.get("authorization", "")
        bearer = header[7:] if header.lower().startswith("bearer ") else None
        return token_ok(bearer, self.token) or token_ok(conn.cookies.get(COOKIE), self.token)

    async def _refuse_remote(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._warned:
            self._warned = True
            server, client = scope.get("server"), scope.get("client")
            log.warning("refusing a request to %s from %s: %s", server, client, REMOTE_REFUSED)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if _is_api(scope["path"]):
            response: JSONResponse | PlainTextResponse = JSONResponse(
                {"detail": REMOTE_REFUSED}, status_code=403
            )
        else:
            response = PlainTextResponse(f"403 Forbidden: {REMOTE_REFUSED}\n", status_code=403)
        await response(scope, receive, send)
