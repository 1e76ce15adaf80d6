"""The order blotter's JSON routes over a session with every lifecycle path: rows, filters,
pages, chains, live appends, and bad input (400 naming the value) or unknown (404)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from src.webui.app import create_app
from src.webui.settings import WebSettings
from tests.query.orders_sessions import (
    EXPECTED_STATUS,
    NEWEST_FIRST,
    SESSION,
    T0,
    line,
    write_session,
)
from tests.webui.loopback import loopback_client

URL = f"/api/live/execution/{SESSION}/orders"


@pytest.fixture
def base(tmp_path):
    root = tmp_path / "logs"
    write_session(root)
    return root


@pytest.fixture
def api(base):
    with loopback_client(create_app(settings=WebSettings(base_path=base))) as c:
        yield c


def test_orders_newest_first_with_counts(api):
    body = api.get(URL).json()
    assert body["session_id"] == SESSION
    assert [o["id"] for o in body["orders"]] == NEWEST_FIRST
    assert {o["id"]: o["status"] for o in body["orders"]} == EXPECTED_STATUS
    assert body["counts"] == {
        "open": 3, "filled": 3, "cancelled": 2, "expired": 1, "rejected": 1, "blocked": 1,
        "error": 1,
    }  # fmt: skip
    assert body["next_before"] is None
    c2 = next(o for o in body["orders"] if o["id"] == "c2")
    assert c2["reason"] == "cancel requested" and c2["filled_quantity"] == 0.4
    assert c2["gates"] == [{"name": "Risk", "passed": True}]
    assert set(c2["latency_ms"]) == {
        "intent_to_order", "order_to_ack", "order_to_first_fill", "order_to_complete",
    }  # fmt: skip


def test_filters_and_pages(api):
    body = api.get(URL, params={"status": "open"}).json()
    assert [o["id"] for o in body["orders"]] == ["c11", "c10", "c9"]
    assert [o["stage"] for o in body["orders"]] == ["partially_filled", "sent", "acknowledged"]
    assert body["counts"]["filled"] == 3  # counts are the session's, not the page's
    body = api.get(URL, params={"status": "cancelled,rejected", "symbol": "ETH-USD"}).json()
    assert [o["id"] for o in body["orders"]] == ["c4"]
    body = api.get(URL, params={"since": "2026-11-30T09:00:12Z", "until": "2026-11-30T09:00:14Z"})
    assert [o["id"] for o in body.json()["orders"]] == ["c8", "i7"]
    seen, before = [], None
    while True:
        body = api.get(URL, params={"limit": "5", **({"before": before} if before else {})})
        assert body.status_code == 200
        seen += [o["id"] for o in body.json()["orders"]]
        before = body.json()["next_before"]
        if before is None:
            break
    assert seen == NEWEST_FIRST


def test_the_page_follows_appends(api, base):
    assert len(api.get(URL, params={"status": "open"}).json()["orders"]) == 3
    with (base / f"{SESSION}.jsonl").open("a") as fh:
        fh.write(line(T0 + 40, "expire", client_id="c10", reason="DAY ended") + "\n")
        fh.write(line(T0 + 41, "intent", intent_id="i99", side="buy", quantity=1.0) + "\n")
    body = api.get(URL, params={"status": "open"}).json()
    assert [o["id"] for o in body["orders"]] == ["i99", "c11", "c9"]
    assert body["orders"][0]["stage"] is None  # waiting for its order
    expired = api.get(URL, params={"status": "expired"}).json()["orders"]
    assert [(o["id"], o["reason"]) for o in expired] == [
        ("c10", "DAY ended"),
        ("c5", "IOC remainder"),
    ]


def test_chain_of_one_order(api):
    body = api.get(f"{URL}/c3").json()
    assert body["order"]["id"] == "c3" and body["order"]["status"] == "filled"
    chain = body["chain"]
    assert [s["kind"] for s in chain] == ["intent", "order", "ack", "partial_fill", "fill"]
    assert chain[0]["since_previous_ms"] is None
    assert [s["since_previous_ms"] for s in chain[1:]] == pytest.approx([1, 1, 1, 1])
    assert chain[-1]["event"]["payload"]["fill_price"] == 50.075
    assert chain[0]["description"].startswith("Intent: BUY")
    blocked = api.get(f"{URL}/i7").json()
    assert [s["kind"] for s in blocked["chain"]] == ["intent", "gate", "gate"]
    assert blocked["order"]["status"] == "blocked"


def test_an_order_id_with_a_slash_opens_its_chain(api, base):
    """An id holding ``/`` (and ``..``, markup) comes URL-encoded as one path part and is
    looked up as text, naming no file. (No ``%`` here: the test client decodes the path
    twice; the browser test sends one to a real server.)"""
    odd = "desk/7/../a<b>"
    with (base / f"{SESSION}.jsonl").open("a") as fh:
        fh.write(line(T0 + 50, "intent", intent_id="i-odd", side="buy", quantity=1.0) + "\n")
        fh.write(line(T0 + 51, "order", client_id=odd, intent_id="i-odd", quantity=1.0) + "\n")
        fh.write(line(T0 + 52, "ack", client_id=odd, order_id="v/1") + "\n")
    body = api.get(f"{URL}/{quote(odd, safe='')}").json()
    assert body["order"]["id"] == odd
    assert [s["kind"] for s in body["chain"]] == ["intent", "order", "ack"]
    missing = api.get(f"{URL}/{quote('desk/8', safe='')}")
    assert missing.status_code == 404 and "'desk/8'" in missing.json()["detail"]


DOT_IDS = [".", "..", "a/../b"]


def test_an_order_id_of_dots_opens_its_own_chain_by_query(api, base):
    """Ids ``.``, ``..`` and ``a/../b``: as a path part the client folds the first two away
    (``/orders/.`` is sent as ``/orders``), so ``/order?id=`` carries each as it is and
    answers that order's own events."""
    with (base / f"{SESSION}.jsonl").open("a") as fh:
        for n, odd in enumerate(DOT_IDS):
            t = T0 + 60 + 10 * n
            fh.write(line(t, "intent", intent_id=f"i-dot{n}", side="buy", quantity=n + 1) + "\n")
            fh.write(line(t + 1, "order", client_id=odd, intent_id=f"i-dot{n}", quantity=n + 1))
            fh.write("\n" + line(t + 2, "ack", client_id=odd, order_id=f"v-dot{n}") + "\n")
    folded = api.get(f"{URL}/.")
    assert "orders" in folded.json() and "chain" not in folded.json()  # the list, not "."
    for n, odd in enumerate(DOT_IDS):
        body = api.get(f"/api/live/execution/{SESSION}/order", params={"id": odd}).json()
        assert body["order"]["id"] == odd and body["order"]["intent_id"] == f"i-dot{n}"
        assert [s["kind"] for s in body["chain"]] == ["intent", "order", "ack"]
        assert body["chain"][-1]["event"]["payload"]["order_id"] == f"v-dot{n}"
    by_path = api.get(f"{URL}/{quote('a/../b', safe='')}").json()
    assert by_path["order"]["intent_id"] == "i-dot2"  # one path part: the path route has it


@pytest.mark.parametrize(
    ("params", "status", "named"),
    [
        ({}, 400, "invalid order id ''"),
        ({"id": ""}, 400, "invalid order id ''"),
        ({"id": "bad\x1bid"}, 400, "invalid order id 'bad\\x1bid'"),
        ({"id": "..."}, 404, "no order '...'"),
    ],
)
def test_the_order_query_route_names_a_bad_or_unknown_id(api, params, status, named):
    response = api.get(f"/api/live/execution/{SESSION}/order", params=params)
    assert response.status_code == status and named in response.json()["detail"]
    assert api.get("/api/live/execution/nope/order", params={"id": "c1"}).status_code == 404


@pytest.mark.parametrize(
    ("path", "params", "named"),
    [
        (URL, {"status": "working"}, "invalid status 'working'"),
        (URL, {"status": ""}, "invalid status ''"),
        (URL, {"symbol": ","}, "invalid symbol ','"),
        (URL, {"limit": "0"}, "invalid limit 0"),
        (URL, {"limit": "501"}, "invalid limit 501"),
        (URL, {"limit": "ten"}, "invalid limit 'ten'"),
        (URL, {"before": "not-a-cursor"}, "invalid cursor 'not-a-cursor'"),
        (URL, {"since": "yesterday"}, "invalid time 'yesterday'"),
        ("/api/live/execution/a..b/orders", {}, "a..b"),
        (f"{URL}/bad%1bid", {}, "invalid order id 'bad\\x1bid'"),
    ],
)
def test_bad_input_is_400_naming_the_value(api, path, params, named):
    response = api.get(path, params=params)
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert named in detail and "\n" not in detail


def test_unknown_session_or_order_is_404(api):
    assert api.get("/api/live/execution/nope/orders").status_code == 404
    assert api.get("/api/live/execution/nope/orders/c1").status_code == 404
    response = api.get(f"{URL}/c404")
    assert response.status_code == 404 and "c404" in response.json()["detail"]


def test_order_books_are_bounded(api, base):
    """One book per session asked about, at most MAX_BOOKS of them (least recent evicted)."""
    from src.webui.order_books import MAX_BOOKS

    names = [f"s{n}" for n in range(MAX_BOOKS + 3)]
    for name in names:
        write_session(base, name)
        assert api.get(f"/api/live/execution/{name}/orders").json()["counts"]["open"] == 3
    books = api.app.state.order_books
    assert len(books) == MAX_BOOKS
    assert api.get(f"/api/live/execution/{names[0]}/orders/c2").status_code == 200  # refolded
