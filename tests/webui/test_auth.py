"""Loopback or token, however the app is served: a real ``uvicorn src.webui.app:app``."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import urllib.error
import urllib.request

import pytest

from src.webui.auth import AccessMiddleware, is_local_request


def non_loopback_address() -> str:
    """An IPv4 address of this machine other than loopback (the route to a public net)."""
    candidates = []
    for target in ("203.0.113.1", "10.255.255.254"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.connect((target, 9))  # UDP connect sends nothing: it only picks a route
                candidates.append(s.getsockname()[0])
            except OSError:
                pass
    try:
        candidates += socket.gethostbyname_ex(socket.gethostname())[2]
    except OSError:
        pass
    try:
        listed = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=10)
        candidates += [a for a in listed.stdout.split() if ":" not in a]
    except (OSError, subprocess.SubprocessError):
        pass
    for addr in candidates:
        if not addr.startswith("127.") and addr != "0.0.0.0":
            return addr
    pytest.fail("this machine has no non-loopback IPv4 address to test a remote request with")


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=20) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_uvicorn_on_all_addresses_without_a_token_answers_only_loopback(uvicorn_app):
    """No token: a request to a non-loopback address is 403 naming the token variable;
    the same server still answers on 127.0.0.1."""
    addr = non_loopback_address()
    with uvicorn_app(host="0.0.0.0") as app:
        port = app.port
        for path in ("/api/sessions", "/api/telemetry", "/healthz", "/metrics"):
            status, body = get(f"http://{addr}:{port}{path}")
            assert status == 403, path
            assert "TELEMETRY_DASHBOARD_TOKEN" in json.loads(body)["detail"]
        status, body = get(f"http://{addr}:{port}/")
        assert status == 403 and b"answers only on loopback" in body
        status, body = get(f"http://{addr}:{port}/live/execution/session_clean")
        assert status == 403 and b"session_clean" not in body
        status, body = get(f"http://127.0.0.1:{port}/api/sessions")
        assert status == 200 and b"session_clean" in body
        assert get(f"http://127.0.0.1:{port}/")[0] == 200


def test_uvicorn_with_a_token_needs_it_from_everywhere(uvicorn_app):
    """A token set: remote and loopback requests alike need it; with it, remote works."""
    addr = non_loopback_address()
    bearer = {"Authorization": "Bearer s3cret"}
    with uvicorn_app(host="0.0.0.0", env={"TELEMETRY_DASHBOARD_TOKEN": "s3cret"}) as app:
        port = app.port
        for host in (addr, "127.0.0.1"):
            assert get(f"http://{host}:{port}/api/sessions")[0] == 401
            assert (
                get(f"http://{host}:{port}/api/sessions", {"Authorization": "Bearer no"})[0] == 401
            )
            status, body = get(f"http://{host}:{port}/api/sessions", bearer)
            assert status == 200 and b"session_clean" in body


@pytest.mark.parametrize(
    ("server", "client", "local"),
    [
        (("127.0.0.1", 8000), ("127.0.0.1", 5000), True),
        (("::1", 8000), ("::1", 5000), True),
        (("::ffff:127.0.0.1", 8000), ("::ffff:127.0.0.1", 5000), True),
        (None, None, False),  # a Unix socket: a proxy's upstream, callers unknown
        (("127.0.0.1", 8000), None, False),
        (("192.0.2.2", 8000), ("192.0.2.7", 5000), False),
        (("192.0.2.2", 8000), ("127.0.0.1", 5000), False),
        (("127.0.0.1", 8000), ("203.0.113.9", 5000), False),  # e.g. X-Forwarded-For applied
        (("fd00::2", 8000), ("fd00::3", 5000), False),
        (("testserver", 80), ("testclient", 5000), False),  # names: fail closed
    ],
)
def test_a_request_is_local_only_at_and_from_loopback(server, client, local):
    """The scope's server and client addresses decide; anything unclear counts as remote."""
    assert is_local_request({"type": "http", "server": server, "client": client}) is local


def test_a_remote_websocket_is_closed_without_a_token():
    """Not only HTTP: a websocket from outside is closed before the app sees it."""
    sent = []

    async def app(scope, receive, send):  # pragma: no cover - must not be reached
        raise AssertionError("reached the app")

    async def send(message):
        sent.append(message)

    scope = {"type": "websocket", "path": "/x", "server": ("192.0.2.2", 80), "client": None}
    asyncio.run(AccessMiddleware(app, token=None)(scope, None, send))
    assert sent == [{"type": "websocket.close", "code": 1008}]
