"""Per-app caches: the page cache builds each page once under concurrent requests, and the
live newest page stays identical to a fresh read as the session grows."""

from __future__ import annotations

import itertools
import json
import threading
import time

from src.query.filters import EventFilter
from src.query.paging import page_back
from src.webui.api import row_json
from src.webui.settings import WebSettings
from src.webui.state import PageCache


def test_concurrent_requests_for_a_stale_page_build_it_once(tmp_path):
    cache = PageCache(WebSettings(base_path=tmp_path))
    builds = []
    start = threading.Barrier(8)

    def build() -> bytes:
        builds.append(1)
        time.sleep(0.05)  # long enough for every other thread to arrive and wait
        return b"page"

    results = []

    def request() -> None:
        start.wait()
        results.append(cache.get_or_build(("k",), ("fp", 1), build))

    threads = [threading.Thread(target=request) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [b"page"] * 8
    assert len(builds) == 1
    assert cache.get_or_build(("k",), ("fp", 2), lambda: b"new") == b"new"  # a new fingerprint


def test_a_failed_build_caches_nothing(tmp_path):
    cache = PageCache(WebSettings(base_path=tmp_path))

    def boom() -> bytes:
        raise OSError("disk gone")

    try:
        cache.get_or_build(("k",), ("fp",), boom)
    except OSError:
        pass
    assert cache.get(("k",), ("fp",)) is None
    assert cache.get_or_build(("k",), ("fp",), lambda: b"ok") == b"ok"


def _event(n: int, kind: str) -> str:
    return json.dumps(
        {
            "ts": f"2025-12-20T12:00:{n % 60:02d}.{n:06d}Z",
            "session_id": "session_clean",
            "symbol": "BTC-USD",
            "mode": "paper",
            "kind": kind,
            "seq": 100 + n,
            "payload": {"n": n},
        }
    )


def test_newest_page_equals_a_fresh_read_while_the_session_grows(client, logs):
    """Each response's rows and cursor are those of a fresh page_back at that moment,
    and the cursor pages on into the older events."""
    base = logs
    numbers = itertools.count(1)
    for kind in (None, "fill"):
        flt = EventFilter.build(session_id="session_clean", kind=kind)
        params = {"limit": 4, **({"kind": kind} if kind else {})}
        for step in range(6):
            with (base / "session_clean.jsonl").open("a") as fh:
                for i in range(step):
                    fh.write(_event(next(numbers), "fill" if i % 2 else "order") + "\n")
            body = client.get("/api/live/execution/session_clean", params=params).json()
            page = page_back(base, flt, 4)
            assert body["timeline"] == [json.loads(row_json(r)) for r in page.records]
            assert body["next_cursor"] == page.next_cursor
            assert body["count"] == len(page.records)
        older = client.get(
            "/api/live/execution/session_clean", params={**params, "before": body["next_cursor"]}
        ).json()
        newest_then_older = [r["seq"] for r in body["timeline"] + older["timeline"]]
        assert newest_then_older == sorted(set(newest_then_older), reverse=True)
