"""The dashboard in a real headless Chromium (Debian's), driven by Playwright."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        pg = browser.new_page()
        yield pg
        browser.close()


def test_page_counts_filter_live_update_and_escaping(page, server, logs):
    """Counts are right, the kind filter works, appended events (XSS included) appear as text."""
    page.goto(f"{server}/live/execution/session_clean")
    assert page.text_content("#count-total") == "22"
    assert page.text_content("#count-fill") == "4"
    assert page.locator("#rows tr").count() == 22
    page.wait_for_selector("#live-status.live", timeout=5000)

    evil = {
        "ts": "2025-12-20T12:00:00Z",
        "session_id": "session_clean",
        "symbol": "<script>window.pwned=1</script>",
        "mode": "paper",
        "kind": "error",
        "payload": {"error": "<img src=x onerror=window.pwned=2> ${window.pwned=3}"},
        "event_id": "xss-1",
    }
    with (logs / "session_clean.jsonl").open("a") as fh:
        fh.write(json.dumps(evil) + "\n")
    page.wait_for_selector("#rows tr[data-key='xss-1']", timeout=2000)  # within 2 s, no reload
    row = page.locator("#rows tr").first
    assert "<script>window.pwned=1</script>" in row.inner_text()
    assert page.evaluate("window.pwned") is None
    # The cards follow the incremental summary (refreshed every few seconds).
    page.wait_for_function(
        "document.getElementById('count-total').textContent === '23'", timeout=10000
    )
    assert page.text_content("#count-error") == "1"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-session.png"), full_page=True)

    page.click("#filters a[data-kind='fill']")
    page.wait_for_url("**kind=fill**")
    kinds = page.locator("#rows tr .badge").all_inner_texts()
    assert kinds and set(kinds) == {"fill"}


def test_index_page_links_to_sessions(page, server):
    """The sessions index opens and links through to a session page."""
    page.goto(server + "/")
    page.click("text=session_latency")
    page.wait_for_url("**/live/execution/session_latency")
    assert page.text_content("#count-total") == "25"


def test_alerts_panel_refreshes_in_place(page, server, logs):
    """The index's alerts panel picks up a new alert from the engine's state without a reload."""
    import io
    from datetime import UTC, datetime

    from src.alerts.channels import ConsoleChannel
    from src.alerts.config import AlertsConfig
    from src.alerts.service import build_engine

    page.goto(server + "/")
    assert "has not run here yet" in page.text_content("#alerts")
    line = {
        "ts": datetime.now(UTC).isoformat(),
        "session_id": "live-browser",
        "symbol": "<b>X</b>",
        "mode": "paper",
        "kind": "error",
        "payload": {"error": "<img src=x onerror=window.pwned=1>"},
    }
    (logs / "live-browser.jsonl").write_text(json.dumps(line) + "\n")
    engine = build_engine(
        AlertsConfig(), logs, channels={"console": ConsoleChannel(stream=io.StringIO())}
    )
    try:
        engine.evaluate()
    finally:
        engine.close()
    page.wait_for_selector("#alerts tr[data-key='errors:live-browser']", timeout=15000)
    assert "<img src=x onerror=window.pwned=1>" in page.text_content("#alerts")
    assert page.evaluate("window.pwned") is None
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-alerts.png"), full_page=True)


def test_page_too_far_behind_shows_a_reload_notice(page, server, logs):
    """A page whose position is more than the backlog cap behind gets the server's `reload`
    event; the page stops following and asks the operator to reload."""
    from src.webui.live import MAX_BACKLOG_BYTES, encode_position

    path = logs / "session_clean.jsonl"
    line = path.read_bytes().splitlines(keepends=True)[0]
    with path.open("ab") as fh:
        fh.write(line * (MAX_BACKLOG_BYTES // len(line) + 10))
    far = encode_position("session_clean.jsonl", 0)

    def old_position(route):  # type: ignore[no-untyped-def]
        html = route.fetch().text()
        html = html.replace('data-position="', f'data-position="{far}" data-was="', 1)
        route.fulfill(body=html, content_type="text/html")

    page.route("**/live/execution/session_clean*", old_position)
    page.goto(f"{server}/live/execution/session_clean?limit=5")
    page.wait_for_selector("#live-status.error", timeout=10000)
    assert page.text_content("#live-status") == "missed too many events: reload the page"


def _clean_event(n: int, second: int, kind: str, payload: dict) -> str:
    """A line of session_clean at 10:20:``second``."""
    return json.dumps(
        {
            "ts": f"2025-12-20T10:20:{second:02d}+00:00",
            "session_id": "session_clean",
            "symbol": "BTC-USD",
            "mode": "paper",
            "kind": kind,
            "payload": payload,
            "seq": n,
            "event_id": f"evt-slash-{n}",
        }
    )


def test_an_order_whose_id_holds_a_slash_opens_its_chain(page, server, logs):
    """An order id with ``/``, ``%`` and markup: a click on its row loads its chain from the
    real server (the id sent URL-encoded) and shows the id as text."""
    odd = "desk/7/../50%<b>x</b>"
    event = _clean_event
    with (logs / "session_clean.jsonl").open("a") as fh:
        fh.write(event(30, 0, "intent", {"intent_id": "int-slash", "side": "buy", "quantity": 1.0}))
        fh.write("\n" + event(31, 1, "order", {"client_id": odd, "intent_id": "int-slash"}))
        fh.write("\n" + event(32, 2, "ack", {"client_id": odd, "order_id": "venue/1"}) + "\n")
    page.goto(f"{server}/live/execution/session_clean")
    row = page.locator(f'#order-rows tr[data-id="{odd}"]')
    row.wait_for(timeout=15000)  # working, so on top
    row.click()
    page.wait_for_selector("#order-chain li", timeout=10000)
    assert page.locator("#order-chain li .badge").all_inner_texts() == ["intent", "order", "ack"]
    assert odd in page.inner_text("#order-detail h3")
    assert page.locator("#order-detail b").count() == 0  # the id's markup stays text


def test_orders_whose_ids_are_dots_open_their_own_chains(page, server, logs):
    """Ids ``.``, ``..`` and ``a/../b`` (a path part the browser would fold away): a click
    on each row shows that order's own chain from the real server."""
    odd_ids = [".", "..", "a/../b"]
    with (logs / "session_clean.jsonl").open("a") as fh:
        for i, odd in enumerate(odd_ids):
            n, intent = 40 + 3 * i, f"int-dot{i}"
            fh.write(_clean_event(n, n, "intent", {"intent_id": intent, "side": "buy"}) + "\n")
            fh.write(_clean_event(n + 1, n, "order", {"client_id": odd, "intent_id": intent}))
            ack = {"client_id": odd, "order_id": f"venue-dot{i}"}
            fh.write("\n" + _clean_event(n + 2, n + 1, "ack", ack) + "\n")
    page.goto(f"{server}/live/execution/session_clean")
    for i, odd in enumerate(odd_ids):
        row = page.locator(f'#order-rows tr[data-id="{odd}"]')
        row.wait_for(timeout=15000)
        row.click()
        head = page.locator("#order-detail h3")
        head.filter(has_text=f"Order {odd} ").wait_for(timeout=10000)
        steps = page.locator("#order-chain li")
        assert steps.locator(".badge").all_inner_texts() == ["intent", "order", "ack"]
        assert f"venue venue-dot{i}" in steps.last.inner_text()
