"""Fixtures for the alert tests: session logs written at chosen instants, a fixed clock."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

# 2026-01-02T00:00:00Z: every test reasons about instants relative to this.
T0 = 1_767_312_000.0


def event_line(t: float, kind: str, session: str = "s1", symbol: str = "BTC-USD", **payload: Any):
    """One JSONL event line at POSIX time ``t``."""
    return (
        json.dumps(
            {
                "ts": datetime.fromtimestamp(t, UTC).isoformat(),
                "session_id": session,
                "symbol": symbol,
                "mode": "paper",
                "kind": kind,
                "payload": payload,
            }
        )
        + "\n"
    ).encode()


class SessionLog:
    """Appends events of one session to ``<base>/<session>.jsonl``."""

    def __init__(self, base: Path, session: str) -> None:
        self.base = base
        self.session = session
        self.path = base / f"{session}.jsonl"
        self.n = 0

    def add(self, t: float, kind: str, **payload: Any) -> SessionLog:
        with self.path.open("ab") as fh:
            fh.write(event_line(t, kind, self.session, **payload))
        return self

    def raw(self, data: bytes) -> SessionLog:
        with self.path.open("ab") as fh:
            fh.write(data)
        return self

    def trade(
        self,
        t: float,
        *,
        latency_ms: float = 10.0,
        blocked_by: str | None = None,
        gates: tuple[str, ...] = ("PriceSanity", "MaxNotional"),
        fill: bool = True,
    ) -> SessionLog:
        """intent, its gate decisions, and (unless blocked) order and fill ``latency_ms`` later."""
        self.n += 1
        iid, cid = f"int-{self.n}", f"ord-{self.n}"
        self.add(t, "intent", intent_id=iid, side="buy", quantity=1.0, current_price=100.0)
        for gate in gates:
            blocked = gate == blocked_by
            self.add(t, "gate", intent_id=iid, gate_name=gate, passed=not blocked, reason="r")
            if blocked:
                return self
        self.add(t, "order", intent_id=iid, client_id=cid, side="buy", quantity=1.0)
        if fill:
            self.add(
                t + latency_ms / 1000,
                "fill",
                intent_id=iid,
                client_id=cid,
                filled_quantity=1.0,
                fill_price=100.0,
            )
        return self

    def touch(self, t: float) -> SessionLog:
        os.utime(self.path, (t, t))
        return self


@pytest.fixture
def logs(tmp_path) -> Path:
    base = tmp_path / "logs" / "execution"
    base.mkdir(parents=True)
    return base


@pytest.fixture
def session_log(logs):
    """``session_log("s1")`` -> a :class:`SessionLog` under the ``logs`` directory."""

    def make(session: str = "s1") -> SessionLog:
        return SessionLog(logs, session)

    return make


@pytest.fixture
def t0() -> float:
    """A fixed 'now' (2026-01-02T00:00:00Z) the tests write events around."""
    return T0


# -- a real HTTP receiver on loopback -----------------------------------------------------


class Receiver:
    """Records every POST; answers with the scripted statuses (then 200), or hangs."""

    def __init__(self) -> None:
        import threading
        from collections import deque
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[dict[str, Any]] = []
        self.statuses: deque[int] = deque()
        self.hang = False
        self.release = threading.Event()
        self._cond = threading.Condition()
        self._read = 0  # requests next_json has looked at
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._cond:
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body}
                    )
                    receiver._cond.notify_all()
                    status = receiver.statuses.popleft() if receiver.statuses else 200
                if receiver.hang:
                    receiver.release.wait(30)
                    return
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_for(self, n: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        """The first ``n`` requests, once they have arrived (fails after ``timeout``)."""
        import time

        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.requests) < n:
                left = deadline - time.monotonic()
                assert left > 0, f"only {len(self.requests)} of {n} requests arrived"
                self._cond.wait(left)
            return list(self.requests[:n])

    def json(self, i: int) -> Any:
        return json.loads(self.requests[i]["body"])

    def next_json(self, accept: Callable[[Any], bool], what: str, timeout: float = 60.0) -> Any:
        """The next JSON body that ``accept`` takes, past those this has looked at before
        (taken or passed over); fails after ``timeout`` naming ``what`` and what came."""
        import time

        deadline = time.monotonic() + timeout
        passed: list[Any] = []
        with self._cond:
            while True:
                while self._read < len(self.requests):
                    doc = self.json(self._read)
                    self._read += 1
                    if accept(doc):
                        return doc
                    passed.append(doc)
                left = deadline - time.monotonic()
                assert left > 0, f"no POST with {what}; got {json.dumps(passed)[:2000]}"
                self._cond.wait(left)

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture
def receiver():
    """A webhook receiver on a free 127.0.0.1 port, shut down after the test."""
    r = Receiver()
    try:
        yield r
    finally:
        r.stop()


def make_note(**changes: Any) -> dict[str, Any]:
    note = {
        "id": "n-1",
        "event": "firing",
        "key": "latency:s1:order_to_fill",
        "rule": "latency",
        "session_id": "s1",
        "subject": "order_to_fill",
        "severity": "critical",
        "status": "firing",
        "message": "p95 order->fill 12000.0 ms over the last 5 min",
        "value": 12000.0,
        "threshold": 10000.0,
        "at": T0,
        "fired_at": T0,
        "resolved_at": None,
        "acked_by": None,
    }
    note.update(changes)
    return note


@pytest.fixture
def note():
    """Build a notification dict like the lifecycle produces (fields overridable)."""
    return make_note
