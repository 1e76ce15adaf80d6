"""A replay into the directory a dashboard watches appears on its live feed."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx2 as httpx

from src.cli.replay_telemetry import main

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "execution_telemetry"


def test_replayed_events_arrive_on_the_sse_stream(server, logs):
    """Replaying session_latency into the watched session_clean streams its events live."""
    received: list[dict] = []
    connected = threading.Event()

    def listen() -> None:
        with httpx.stream(
            "GET", f"{server}/api/live/execution/session_clean/stream", timeout=10
        ) as r:
            for line in r.iter_lines():
                connected.set()
                if line.startswith("data: ") and line != "data: {}":
                    received.append(json.loads(line[6:]))
                    if len(received) == 25:
                        return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert connected.wait(5)
    time.sleep(0.2)  # let the feed take its starting position
    code = main(
        [
            "--path",
            str(FIX),
            "--session",
            "session_latency",
            "--into",
            str(logs),
            "--as-session",
            "session_clean",
            "--force",
        ]
    )
    assert code == 0
    thread.join(10)
    assert len(received) == 25
    assert received[0]["details"]["origin_event_id"] == "evt-fixture-session_latency-1"
    assert received[0]["event_id"] != "evt-fixture-session_latency-1"  # a replay is a new event
