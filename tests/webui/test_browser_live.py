"""The live session page in real Chromium against a real server, on a session that grows
at 500 events/s (bounded: it stops after a minute or at the end of the test).

The session's events follow an order's whole life (intent, gates, order, ack, partial
fills, fill, cancel, expire, reject) and, in the ``evil`` flavour, carry markup in every
field a page shows: symbol, gate name, reason, client and venue ids.
"""

from __future__ import annotations

import json
import random
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.webui.test_browser import ARTIFACTS, CHROMIUM

RATE = 500  # events per second
MAX_SECONDS = 60  # the writer stops by itself after this long
EVIL = "<img src=x onerror=window.pwned=1>"
SYMBOLS = ("BTC-USD", "ETH-USD", "SOL-USD")
EVIL_SYMBOL = "<script>window.pwned=2</script>"


class GrowingSession:
    """Writes a session's order lifecycles to ``path``: ``history_s`` seconds of backdated
    events first, then :data:`RATE` events/s in a thread until :meth:`stop` (or for at most
    :data:`MAX_SECONDS`)."""

    def __init__(self, path: Path, *, evil: bool, history_s: float = 1800, seed: int = 7):
        self.path = path
        self.session_id = path.name.removesuffix(".jsonl")
        self.evil = evil
        self.rng = random.Random(seed)
        self.n = 0
        self.written = 0
        self.cancelled: list[str] = []  # client ids of orders cancelled so far
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._history(history_s)

    # -- events -----------------------------------------------------------------------
    def _event(self, t: float, kind: str, symbol: str, payload: dict) -> str:
        self.written += 1
        return json.dumps(
            {
                "ts": datetime.fromtimestamp(t, UTC).isoformat(),
                "session_id": self.session_id,
                "symbol": symbol,
                "mode": "paper",
                "kind": kind,
                "payload": payload,
                "seq": self.written,
                "event_id": f"ev-{self.session_id}-{self.written}",
            }
        )

    def lifecycle(self, t: float) -> list[str]:
        """One intent's events from ``t`` on (a few ms apart, log-normally)."""
        rng = self.rng
        self.n += 1
        i = self.n
        evil = self.evil and i % 5 == 0
        symbol = EVIL_SYMBOL if evil else SYMBOLS[i % len(SYMBOLS)]
        iid, cid = f"int-{i}", f"cl-{i}" + (EVIL if evil else "")
        side = "buy" if i % 2 else "sell"
        price = 100.0 * (1 + (i % 3))
        qty = 2.0
        out = [
            self._event(
                t,
                "intent",
                symbol,
                {
                    "intent_id": iid,
                    "side": side,
                    "quantity": qty,
                    "current_price": price,
                    "strategy_key": "demo",
                    "order_type": "limit",
                    "limit_price": price,
                    "time_in_force": "GTC",
                },
            ),
        ]

        def later(ms_mu: float) -> float:
            nonlocal t
            t += rng.lognormvariate(ms_mu, 0.6) / 1000
            return t

        gates = ("PriceSanity", EVIL if evil else "MaxNotional")
        blocked = i % 11 == 0
        for g, name in enumerate(gates):
            passed = not (blocked and g == 1)
            out.append(
                self._event(
                    later(-1),
                    "gate",
                    symbol,
                    {
                        "intent_id": iid,
                        "gate_name": name,
                        "passed": passed,
                        "reason": "ok"
                        if passed
                        else "notional above limit " + (EVIL if evil else ""),
                    },
                )
            )
        if blocked:
            return out
        out.append(
            self._event(
                later(0.5),
                "order",
                symbol,
                {
                    "client_id": cid,
                    "intent_id": iid,
                    "side": side,
                    "quantity": qty,
                    "order_type": "limit",
                    "limit_price": price,
                    "time_in_force": "GTC",
                },
            )
        )
        if i % 13 == 0:
            out.append(
                self._event(
                    later(1),
                    "reject",
                    symbol,
                    {
                        "client_id": cid,
                        "intent_id": iid,
                        "side": side,
                        "reason": "price band " + (EVIL if evil else ""),
                    },
                )
            )
            return out
        venue = f"v-{i}" + (EVIL if evil else "")
        out.append(
            self._event(
                later(1),
                "ack",
                symbol,
                {
                    "client_id": cid,
                    "intent_id": iid,
                    "side": side,
                    "order_id": venue,
                },
            )
        )
        fill_price = price * (1 + rng.gauss(0.0002 if side == "buy" else -0.0002, 0.0004))
        ref = {"reference_price": price, "order_id": venue}
        if i % 7 == 0:
            out.append(
                self._event(
                    later(1.5),
                    "partial_fill",
                    symbol,
                    {
                        "client_id": cid,
                        "intent_id": iid,
                        "side": side,
                        "filled_quantity": 0.5,
                        "fill_price": fill_price,
                        "fill_notional": 0.5 * fill_price,
                        "fill_fee": 0.01,
                        "cumulative_quantity": 0.5,
                        "remaining_quantity": 1.5,
                        **ref,
                    },
                )
            )
            self.cancelled.append(cid)
            out.append(
                self._event(
                    later(2),
                    "cancel",
                    symbol,
                    {
                        "client_id": cid,
                        "intent_id": iid,
                        "side": side,
                        "reason": "cancel requested " + (EVIL if evil else ""),
                        "filled_quantity": 0.5,
                        "remaining_quantity": 1.5,
                        "order_id": venue,
                    },
                )
            )
            return out
        if i % 17 == 0:
            out.append(
                self._event(
                    later(2),
                    "expire",
                    symbol,
                    {
                        "client_id": cid,
                        "intent_id": iid,
                        "side": side,
                        "reason": "IOC remainder",
                        "time_in_force": "IOC",
                        "filled_quantity": 0.0,
                        "remaining_quantity": qty,
                    },
                )
            )
            return out
        if i % 19 == 0:
            return out  # stays working (open)
        out.append(
            self._event(
                later(1.5),
                "fill",
                symbol,
                {
                    "client_id": cid,
                    "intent_id": iid,
                    "side": side,
                    "filled_quantity": qty,
                    "fill_price": fill_price,
                    "fill_notional": qty * fill_price,
                    "fill_fee": 0.02,
                    **ref,
                },
            )
        )
        return out

    def _history(self, seconds: float) -> None:
        now = time.time()
        t = now - seconds
        lines = []
        while t < now - 1:
            lines += self.lifecycle(t)
            t += 0.5
        with self.path.open("a") as fh:
            fh.write("\n".join(lines) + "\n")

    # -- growing ----------------------------------------------------------------------
    def start(self) -> GrowingSession:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        start = time.monotonic()
        sent = 0
        with self.path.open("a", buffering=1) as fh:
            while not self._stop.is_set() and time.monotonic() - start < MAX_SECONDS:
                due = int((time.monotonic() - start) * RATE)
                lines: list[str] = []
                while sent + len(lines) < due:
                    lines += self.lifecycle(time.time())
                if lines:
                    fh.write("\n".join(lines) + "\n")
                    sent += len(lines)
                self._stop.wait(0.02)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)


@pytest.fixture
def growing(logs):
    """A session growing at 500 events/s with markup in every field (stopped after)."""
    session = GrowingSession(logs / "growing.jsonl", evil=True).start()
    yield session
    session.stop()


def _browser(p, width: int, height: int = 900, scheme: str = "light"):  # type: ignore[no-untyped-def]
    browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
    page = browser.new_page(viewport={"width": width, "height": height}, color_scheme=scheme)
    return browser, page


@pytest.fixture
def wide():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser, page = _browser(p, 1440)
        yield page
        browser.close()


def _first_key(page) -> str:  # type: ignore[no-untyped-def]
    return page.eval_on_selector("#rows tr", "tr => tr.dataset.key")


def test_an_opened_row_stays_put_and_new_rows_wait_behind_the_button(wide, server, growing):
    """With a row open for 5 s at 500 events/s the table does not move; the "N new" button
    counts what arrived; clicking it shows them (the table stays bounded)."""
    page = wide
    page.goto(f"{server}/live/execution/growing?limit=50")
    page.wait_for_selector("#live-status.live", timeout=10000)
    page.wait_for_function("document.querySelectorAll('#rows tr').length === 50")
    page.hover("#rows tr:nth-child(4) td.ts")  # holds the table while the row is chosen
    key = page.get_attribute("#rows tr:nth-child(4)", "data-key")
    row = page.locator(f"#rows tr[data-key='{key}']")
    row.locator("summary").click()
    page.mouse.move(5, 5)  # off the table: only the open row holds it
    top_before = row.bounding_box()["y"]
    first_before = _first_key(page)
    page.wait_for_timeout(5000)
    assert row.get_attribute("data-key") == key and row.locator("details[open]").count() == 1
    assert row.bounding_box()["y"] == top_before
    assert _first_key(page) == first_before
    assert page.locator("#rows tr").count() == 50
    button = page.locator("#new-rows")
    assert button.is_visible()
    waiting = int(button.inner_text().split()[0].replace(",", ""))
    assert waiting > 100  # 5 s at 500 events/s (a loaded machine delivers fewer)

    button.click()
    page.wait_for_function(f"document.querySelector('#rows tr').dataset.key !== {first_before!r}")
    # Bounded: 50 rows, plus the open one, which is never dropped.
    assert page.locator("#rows tr").count() <= 51
    assert page.locator(f"#rows tr[data-key='{key}'] details[open]").count() == 1
    assert page.evaluate("window.pwned") is None


def test_rows_flow_again_once_the_operator_lets_go(wide, server, growing):
    """Nothing open, pointer away, page at the top: new rows go straight in (bounded)."""
    page = wide
    page.goto(f"{server}/live/execution/growing?limit=40")
    page.wait_for_selector("#live-status.live", timeout=10000)
    page.mouse.move(5, 5)
    first = _first_key(page)
    page.wait_for_function(f"document.querySelector('#rows tr').dataset.key !== {first!r}")
    assert page.locator("#rows tr").count() == 40
    assert not page.locator("#new-rows").is_visible()


def test_cards_and_histograms_follow_the_fills(wide, server, growing):
    """The fill count, the fill card and the order->fill histogram change as fills arrive,
    without a reload; the charts' range can be switched."""
    page = wide
    page.goto(f"{server}/live/execution/growing?range=5m")
    page.wait_for_selector("#live-status.live", timeout=10000)
    fills = page.text_content("#count-fill")
    hist = page.get_attribute("svg[aria-label^='Latency order→fill']", "aria-label")
    page.wait_for_function(f"document.getElementById('count-fill').textContent !== {fills!r}")
    page.wait_for_function(
        "document.querySelector(\"svg[aria-label^='Latency order→fill']\")"
        f".getAttribute('aria-label') !== {hist!r}"
    )
    label = page.get_attribute("svg[aria-label^='Latency order→fill']", "aria-label")
    assert "p50" in label and "p95" in label and "p99" in label
    assert page.locator("#charts .marker-label").count() >= 6  # p50/p95/p99 on two histograms

    five = int(label.split("n=")[1].split(":")[0].replace(",", ""))
    page.click("#ranges a[data-range='session']")
    page.wait_for_function(
        "document.querySelector(\"svg[aria-label^='Latency order→fill']\")"
        ".getAttribute('aria-label').includes('whole session')"
    )
    label = page.get_attribute("svg[aria-label^='Latency order→fill']", "aria-label")
    assert int(label.split("n=")[1].split(":")[0].replace(",", "")) > five  # 30 min of history
    assert "range=session" in page.url
    assert "range=session" in page.get_attribute("#filters a[data-kind='fill']", "href")


def test_markup_in_every_field_stays_text(wide, server, growing):
    """Symbols, gate names, reasons, client and venue ids carrying markup show as text in
    the table, the cards and the charts; nothing runs."""
    page = wide
    page.goto(f"{server}/live/execution/growing?limit=400")
    page.wait_for_selector("#live-status.live", timeout=10000)
    page.wait_for_timeout(1500)
    text = page.inner_text("main")
    assert EVIL_SYMBOL in text
    for row in page.locator("#rows tr.kind-cancel").all()[:3]:
        row.locator("summary").click()
    assert EVIL in page.inner_text("#rows")
    assert page.locator("#rows img, #charts img, #cards img, #rows script").count() == 0
    assert page.evaluate("window.pwned") is None


@pytest.mark.parametrize(("width", "scheme"), [(390, "dark"), (1440, "light")])
def test_no_horizontal_scrolling_and_screenshots(server, growing, width, scheme):
    """At 390 and 1440 px wide (dark and light) the page is no wider than the window,
    with rows open and the orders view showing; screenshots go to artifacts/."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser, page = _browser(p, width, 900, scheme)
        try:
            page.goto(f"{server}/live/execution/growing?limit=30")
            page.wait_for_selector("#live-status.live", timeout=10000)
            page.wait_for_timeout(1500)
            for row in page.locator("#rows tr").all()[:2]:
                row.locator("summary").click()
            page.mouse.move(1, 1)
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{overflow} px of horizontal scrolling at {width} px"
            bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert (bg == "rgb(15, 20, 25)") == (scheme == "dark")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"live-page-{width}.png"), full_page=True)
            page.goto(server + "/")
            page.wait_for_selector("#sessions")
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"the index scrolls sideways at {width} px"
        finally:
            browser.close()


def test_index_shows_session_state_and_refreshes(wide, server, logs):
    """The index names each session's state and picks up a new session without a reload."""
    page = wide
    page.goto(server + "/")
    assert page.locator("#sessions tr[data-session='late'] ").count() == 0
    session = GrowingSession(logs / "late.jsonl", evil=False, history_s=5)
    page.wait_for_selector("#sessions tr[data-session='late'] .state-running", timeout=15000)
    assert session.written > 0


def test_api_docs_work_offline(wide, server):
    """/docs renders Swagger UI with every request kept on the dashboard's own host."""
    page = wide
    foreign: list[str] = []

    def only_local(route):  # type: ignore[no-untyped-def]
        if route.request.url.startswith(server):
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(server + "/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=15000)
    assert "Execution telemetry" in page.inner_text(".swagger-ui .info .title")
    assert page.locator(".opblock").count() > 5
    assert foreign == []
    icon = page.evaluate("document.querySelector('link[rel*=icon]').href")
    assert icon.endswith("/static/favicon.svg")


def test_pointing_at_the_table_holds_new_rows(wide, server, growing):
    """With the pointer on the table (nothing open), rows wait; moving away lets them in."""
    page = wide
    page.goto(f"{server}/live/execution/growing?limit=30")
    page.wait_for_selector("#live-status.live", timeout=10000)
    page.hover("#rows tr:nth-child(5) td.desc")
    first = _first_key(page)
    page.wait_for_selector("#new-rows:not([hidden])", timeout=10000)
    assert _first_key(page) == first
    page.mouse.move(5, 5)
    page.wait_for_function(f"document.querySelector('#rows tr').dataset.key !== {first!r}")
    page.wait_for_selector("#new-rows[hidden]", state="attached", timeout=10000)


def test_a_cancelled_orders_chain_shows_on_click(wide, server, growing):
    """The Orders view lists working orders first; filtered to cancelled, a click on one
    shows its chain (intent, gates, order, ack, partial fill, cancel) with the time between
    steps; markup in reasons and gate names stays text."""
    page = wide
    page.goto(f"{server}/live/execution/growing")
    page.wait_for_selector("#order-rows tr[data-id]", timeout=15000)
    statuses = page.locator("#order-rows tr .st").all_inner_texts()
    assert statuses[0].startswith("open")  # working orders on top
    assert int(page.inner_text("#orders-filter b[data-count='cancelled']")) > 0
    page.click("#orders-filter button[data-status='cancelled']")
    page.wait_for_function(
        "(s => s.length > 0 && s.every(x => x.textContent === 'cancelled'))"
        "([...document.querySelectorAll('#order-rows tr .st')])"
    )
    clean = page.locator("#order-rows tr[data-id^='cl-']").filter(has_not_text="onerror").first
    order_id = clean.get_attribute("data-id")
    assert order_id in growing.cancelled
    clean.click()
    page.wait_for_selector("#order-chain li", timeout=10000)
    kinds = page.locator("#order-chain li .badge").all_inner_texts()
    assert kinds == ["intent", "gate", "gate", "order", "ack", "partial_fill", "cancel"]
    gaps = page.locator("#order-chain li .gap").all_inner_texts()
    assert gaps[0] == "" and all(g.startswith("+") for g in gaps[1:])
    assert order_id in page.inner_text("#order-detail h3")
    assert "cancelled" in page.inner_text("#order-detail h3")
    assert page.locator("#order-chain .verdict.pass").count() == 2
    page.click("#orders-filter button[data-status='']")
    page.wait_for_function("document.querySelectorAll('#order-rows tr').length > 1")
    assert EVIL in page.inner_text("#orders") or EVIL_SYMBOL in page.inner_text("#orders")
    # An order whose ids, symbol, gate name and reason all carry markup: its chain is text.
    page.click("#order-rows tr[data-id*='onerror']")
    page.wait_for_function(
        "document.querySelector('#order-detail h3') &&"
        " document.querySelector('#order-detail h3').textContent.includes('onerror')"
    )
    page.wait_for_selector("#order-chain li")
    assert EVIL in page.inner_text("#order-detail")
    assert page.locator("#orders img, #orders script").count() == 0
    assert page.evaluate("window.pwned") is None
