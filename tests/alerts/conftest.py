"""Fixtures for the alert tests: session logs written at chosen instants, a fixed clock."""

from __future__ import annotations

import json
import os
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
