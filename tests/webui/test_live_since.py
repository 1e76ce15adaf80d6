"""The live feed's since= positions under attack and under load: forged, out of range, for
another session, and many clients connecting to a feed at once."""

from __future__ import annotations

import asyncio
import json

import httpx2 as httpx

from src.webui.live import encode_position
from tests.webui.test_live import append


def first_events(url: str, since: str, until: str = "event_id") -> list[str]:
    """The SSE event names (and the event ids) a stream opens with, up to the first
    keep-alive, event or reload."""
    names: list[str] = []
    with httpx.stream("GET", url, params={"since": since}, timeout=30) as r:
        assert r.status_code == 200, r.read()
        for line in r.iter_lines():
            if line.startswith(("event: ", ": keep-alive")):
                names.append(line)
                if line != "event: event":
                    return names
            elif line.startswith("data: ") and names[-1] == "event: event":
                names.append(json.loads(line[6:])[until])
                return names
    return names


def test_forged_since_positions_never_fail_the_stream(server, logs):
    """A negative offset (the server read before the file start: 500), one far beyond the
    end, another session's file, a path outside the root, an archive: each is a stream
    that either replays nothing, or says reload; none is an error."""
    url = f"{server}/api/live/execution/session_clean/stream"
    append(logs / "session_clean.jsonl", event_id="after-start")
    for rel, offset in [
        ("session_clean.jsonl", -5),
        ("session_clean.jsonl", -(10**9)),
        ("session_clean.jsonl", 10**30),
        ("session_latency.jsonl", 0),
        ("../../../etc/passwd", 0),
        ("session_archived.jsonl.gz", 0),
    ]:
        with httpx.stream(
            "GET", url, params={"since": encode_position(rel, offset)}, timeout=30
        ) as r:
            assert r.status_code == 200, (rel, offset, r.read())
            head = next(r.iter_lines())
            assert head == "retry: 1000", (rel, offset, head)


def test_clients_joining_a_starting_feed_all_get_their_backlog(server, logs):
    """Many clients of a session nobody follows yet connect at once with a position a
    little behind the end: every one of them replays the line they missed (a client that
    joined while the feed was still taking its start position got nothing)."""
    path = logs / "session_latency.jsonl"
    size = path.stat().st_size
    append(path, event_id="missed")
    since = encode_position("session_latency.jsonl", size)
    url = f"{server}/api/live/execution/session_latency/stream"

    async def one(client: httpx.AsyncClient) -> str | None:
        async with client.stream("GET", url, params={"since": since}) as r:
            async for line in r.aiter_lines():
                if line.startswith("data: "):
                    return json.loads(line[6:]).get("event_id")
                if line.startswith(": keep-alive"):
                    return None
        return None

    async def all_at_once() -> list[str | None]:
        async with httpx.AsyncClient(timeout=30) as client:
            return await asyncio.gather(*(one(client) for _ in range(20)))

    assert asyncio.run(all_at_once()) == ["missed"] * 20
