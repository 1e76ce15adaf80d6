"""Live feed: appended events reach SSE clients; a slow client is dropped, not waited for."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx2 as httpx

from src.webui.live import FeedHub


def append(path, **fields) -> None:
    record = {
        "ts": "2025-12-20T12:00:00Z",
        "session_id": path.stem,
        "symbol": "BTC-USD",
        "mode": "paper",
        "kind": "fill",
        "payload": {"filled_quantity": 1.0, "fill_price": 1.0, "fill_fee": 0.0},
    }
    record.update(fields)
    with path.open("a") as fh:
        fh.write(json.dumps(record) + "\n")


def test_sse_client_receives_an_appended_event(server, logs):
    """A line appended to the log arrives on an open SSE stream as an 'event' message."""
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
                    return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert connected.wait(5)
    time.sleep(0.2)  # let the feed take its starting position
    append(logs / "session_clean.jsonl", event_id="live-1")
    thread.join(10)
    assert received and received[0]["event_id"] == "live-1"
    assert received[0]["description"] == "Fill: 1.000000 @ $1.00 (fee: $0.0000)"


def test_since_position_replays_the_gap(server, logs):
    """A client connecting with ?since=<position> first gets the events it missed."""
    from src.webui.live import encode_position

    size = (logs / "session_clean.jsonl").stat().st_size
    append(logs / "session_clean.jsonl", event_id="missed-1")
    since = encode_position("session_clean.jsonl", size)
    with httpx.stream(
        "GET",
        f"{server}/api/live/execution/session_clean/stream",
        params={"since": since},
        timeout=10,
    ) as r:
        for line in r.iter_lines():
            if line.startswith("data: "):
                assert json.loads(line[6:])["event_id"] == "missed-1"
                break


def test_slow_client_is_dropped_and_others_keep_receiving(tmp_path):
    """A subscriber whose queue overflows is dropped with an end marker; a fast one gets all."""

    async def scenario() -> tuple[list, list, int]:
        (tmp_path / "s.jsonl").write_text("")
        hub = FeedHub(tmp_path, poll_interval=60, queue_size=3)
        slow = await hub.subscribe("s")
        fast = await hub.subscribe("s")
        feed = hub._feeds["s"]
        got_fast = []
        for n in range(5):
            hub.publish(feed, [{"n": n}])
            got_fast.append(await fast.queue.get())
        got_slow = []
        while not slow.queue.empty():
            got_slow.append(slow.queue.get_nowait())
        dropped = hub.dropped_clients
        await hub.close()
        return got_fast, got_slow, dropped

    got_fast, got_slow, dropped = asyncio.run(scenario())
    assert [r["n"] for r in got_fast] == [0, 1, 2, 3, 4]
    assert got_slow == [None] and dropped == 1
