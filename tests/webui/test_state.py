"""Per-app caches: the page cache (the order blotter's) builds each page once under
concurrent requests; the live newest page stays identical to a fresh read as the session
grows, and the HTML page and the API share it."""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from urllib.parse import quote

import pytest

from src.query.filters import EventFilter
from src.query.paging import page_back
from src.webui.api import row_json
from src.webui.settings import WebSettings
from src.webui.state import HeadCache, PageCache


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


def test_a_failed_build_caches_nothing_and_leaves_nothing_behind(tmp_path):
    cache = PageCache(WebSettings(base_path=tmp_path))

    def boom() -> bytes:
        raise OSError("disk gone")

    with pytest.raises(OSError):
        cache.get_or_build(("k",), ("fp",), boom)
    assert cache.get(("k",), ("fp",)) is None
    assert cache.building == 0
    assert cache.get_or_build(("k",), ("fp",), lambda: b"ok") == b"ok"
    assert cache.building == 0


def test_bad_cursors_do_not_accumulate_state(client):
    """Every request with a different invalid cursor is a 400, and leaves nothing pending."""
    for i in range(50):
        r = client.get("/api/live/execution/session_clean", params={"before": f"zz{i}"})
        assert r.status_code == 400 and "invalid cursor" in r.json()["detail"]
    assert len(client.app.state.heads) == 0  # older pages are read, never kept


def test_head_cache_keeps_its_row_budget(logs):
    heads = HeadCache(WebSettings(base_path=logs), max_rows=1_000)
    for limit in range(100, 1_000, 100):
        heads.get("session_clean", None, limit)
    assert heads.rows <= 1_000
    newest = heads.get("session_clean", None, 5_000)  # over budget alone: kept, others go
    assert len(heads) == 1 and heads.rows == 5_000
    assert heads.get("session_clean", None, 5_000) is newest


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


def test_the_session_page_and_the_api_share_one_first_page(client, logs):
    """The HTML page's first page is the newest page the API serves: one live head for both
    (an append is read once, by whichever asks first), the same events and the same cursor."""
    with (logs / "session_clean.jsonl").open("a") as fh:
        for n in range(1, 7):
            fh.write(_event(n, "fill") + "\n")
    html = client.get("/live/execution/session_clean", params={"limit": 4})
    assert html.status_code == 200
    heads = client.app.state.heads
    assert len(heads) == 1  # the page built the head the API will use
    head = heads.get("session_clean", None, 4)
    body = client.get("/api/live/execution/session_clean", params={"limit": 4}).json()
    assert len(heads) == 1 and head.rebuilds == 1  # the API refreshed it, nothing rebuilt
    shown = re.findall(r'<td class="ts" title="([^"]+)">', html.text)  # full time in the title
    assert shown == [row["ts"] for row in body["timeline"]] and len(shown) == 4
    assert body["next_cursor"] and quote(body["next_cursor"]) in html.text
