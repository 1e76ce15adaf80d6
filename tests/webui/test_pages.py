"""Dashboard HTML pages: content, filters, paging, errors, and escaping of log content."""

from __future__ import annotations

import json


def test_index_lists_sessions_with_links(client):
    """/ shows each session with a link to its page."""
    html = client.get("/").text
    assert 'href="/live/execution/session_clean"' in html
    assert "session_archived" in html


def test_session_page_shows_stats_table_and_details(client):
    """The session page has stat cards, rows newest first and pretty JSON details."""
    html = client.get("/live/execution/session_clean").text
    assert 'id="count-total">22<' in html and 'id="count-fill">4<' in html
    assert html.index("Gate [MaxNotional]: ❌ BLOCK") < html.index(
        "Intent: BUY 1.000000 @ $100,000.00"
    )
    assert (
        "&#34;gate_name&#34;: &#34;MaxNotional&#34;" in html or '"gate_name": "MaxNotional"' in html
    )
    assert "<svg" in html


def test_kind_filter_and_older_link(client):
    """?kind=fill shows only fills; a small limit offers an 'Older events' link that works."""
    html = client.get("/live/execution/session_clean?kind=fill&limit=2").text
    assert html.count('class="badge kind-fill"') == 2 and 'class="badge kind-gate"' not in html
    older = html.split('id="older" href="')[1].split('"')[0].replace("&amp;", "&")
    page2 = client.get(f"/live/execution/session_clean{older}").text
    assert page2.count('class="badge kind-fill"') == 2


def test_unknown_session_page_is_a_404_page(client):
    """An unknown session renders a 404 HTML page saying so."""
    r = client.get("/live/execution/nope")
    assert r.status_code == 404 and "no execution log found" in r.text and "<html" in r.text


def test_bad_session_id_page_is_a_400(client):
    """A traversal-like id gets a 400 page."""
    assert client.get("/live/execution/a..b").status_code == 400
    assert client.get("/live/execution/.hidden").status_code == 400


def test_log_content_is_escaped_everywhere(client, logs):
    """A symbol or payload carrying markup or template syntax renders as inert text."""
    evil = {
        "ts": "2025-12-20T12:00:00Z",
        "session_id": "xss",
        "symbol": "<script>alert(1)</script>",
        "mode": "paper",
        "kind": "error",
        "payload": {"error": "<img src=x onerror=alert(2)> ${7*7} {{7*7}}"},
    }
    (logs / "xss.jsonl").write_text(json.dumps(evil) + "\n")
    html = client.get("/live/execution/xss").text
    assert "<script>alert(1)</script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "${7*7} {{7*7}}" in html  # the template did not evaluate it
    charts = client.get("/live/execution/xss/charts").text
    assert "<script>alert" not in charts


def test_live_parts_follow_appended_events_for_a_time_range(client, logs):
    """The session page's live parts (state, cards, charts) come from the incremental
    summary: an appended fill shows in the counts; the range names the charts."""
    first = client.get("/live/execution/session_clean/live?range=5m")
    assert first.status_code == 200
    assert 'id="count-fill">4<' in first.text and 'id="session-state"' in first.text
    assert "(last 5m" in first.text and 'id="cards"' in first.text
    line = (logs / "session_clean.jsonl").read_text().splitlines()[-1]
    event = json.loads(line)
    fill = {**event, "kind": "fill", "event_id": "late-fill", "payload": {"client_id": "x"}}
    with (logs / "session_clean.jsonl").open("a") as fh:
        fh.write(json.dumps(fill) + "\n")
    again = client.get("/live/execution/session_clean/live?range=session")
    assert 'id="count-fill">5<' in again.text and "(whole session" in again.text
    assert client.get("/live/execution/session_clean/live?range=2m").status_code == 422
    assert client.get("/live/execution/nope/live").status_code == 404


def test_session_state_on_the_index_and_the_page(client, logs):
    """running (written just now), idle (quiet for a minute), ended (quiet for an hour)."""
    import os
    import time

    now = time.time()
    os.utime(logs / "session_clean.jsonl", (now, now))
    os.utime(logs / "session_latency.jsonl", (now - 60, now - 60))
    os.utime(logs / "session_bad_lines.jsonl", (now - 3600, now - 3600))
    html = client.get("/sessions/panel").text
    for sid, state in (
        ("session_clean", "running"),
        ("session_latency", "idle"),
        ("session_bad_lines", "ended"),
    ):
        row = html.split(f'data-session="{sid}"')[1].split("</tr>")[0]
        assert f'class="state state-{state}">{state}<' in row
    assert 'id="sessions-box"' in client.get("/").text
    page = client.get("/live/execution/session_bad_lines").text
    assert 'id="session-state" class="state state-ended"' in page
    states = {s["session_id"]: s["state"] for s in client.get("/api/sessions").json()}
    assert states["session_latency"] == "idle"


def test_docs_and_favicon_are_served_by_the_app(client):
    """/docs loads Swagger UI from the app itself (no CDN), and there is a favicon."""
    html = client.get("/docs").text
    assert "/static/swagger_ui/swagger-ui-bundle.js" in html and "cdn" not in html.lower()
    js = client.get("/static/swagger_ui/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 100_000
    assert client.get("/static/swagger_ui/LICENSE").status_code == 200
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert 'rel="icon" href="/static/favicon.svg"' in client.get("/").text


def test_gate_verdicts_are_words_not_only_emoji(client):
    """PASS and BLOCK are badges with words (readable without an emoji font)."""
    html = client.get("/live/execution/session_clean?kind=gate").text
    assert '<span class="verdict block">BLOCK</span>' in html
    assert '<span class="verdict pass">PASS</span>' in html


def test_a_quiet_session_whose_logger_holds_its_file_is_idle_not_ended(client, logs):
    """Quiet for an hour but still held open (locked) by a logger: idle."""
    import fcntl
    import os
    import time

    path = logs / "session_latency.jsonl"
    os.utime(path, (time.time() - 3600, time.time() - 3600))
    assert (
        'state-ended">ended<'
        in client.get("/sessions/panel")
        .text.split('data-session="session_latency"')[1]
        .split("</tr>")[0]
    )
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_SH)  # as the session's logger does while it runs
        row = client.get("/sessions/panel").text.split('data-session="session_latency"')[1]
        assert 'state-idle">idle<' in row.split("</tr>")[0]


def test_live_parts_read_only_what_was_appended(client, logs):
    """The cards and charts come from one incremental summary per session: refreshing after
    an append keeps the same builder (nothing re-read), whose chart index has the new event."""
    client.get("/live/execution/session_clean/live")
    incremental = client.app.state.summaries.get("session_clean").charted
    builder = incremental.builder
    before = sum(sum(k.values()) for _, k in builder.charts.window(None).buckets)
    line = json.loads((logs / "session_clean.jsonl").read_text().splitlines()[-1])
    with (logs / "session_clean.jsonl").open("a") as fh:
        fh.write(json.dumps({**line, "kind": "ack", "event_id": "late-ack"}) + "\n")
    html = client.get("/live/execution/session_clean/live?range=session").text
    assert incremental.builder is builder
    assert sum(sum(k.values()) for _, k in builder.charts.window(None).buckets) == before + 1
    assert 'id="count-ack">1<' in html


def test_cards_show_working_orders_and_order_outcomes(client, logs):
    """Open orders, cancel/reject rates and order->ack come from the summary, live."""
    line = json.loads((logs / "session_clean.jsonl").read_text().splitlines()[-1])
    base = {**line, "symbol": "ETH-USD"}
    events = [
        {**base, "kind": "order", "event_id": "o1", "payload": {"client_id": "w1", "quantity": 1}},
        {**base, "kind": "ack", "event_id": "a1", "payload": {"client_id": "w1"}},
        {**base, "kind": "order", "event_id": "o2", "payload": {"client_id": "w2", "quantity": 1}},
        {**base, "kind": "cancel", "event_id": "c2", "payload": {"client_id": "w2"}},
    ]
    with (logs / "session_clean.jsonl").open("a") as fh:
        fh.write("".join(json.dumps(e) + "\n" for e in events))
    html = client.get("/live/execution/session_clean/live").text
    cards = html.split('id="cards"')[1].split("</section>")[0]
    assert 'id="card-open-orders">1<' in cards and "oldest" in cards
    assert 'id="card-cancel-reject">' in cards and "1 / 0 of" in cards
    assert 'id="card-ack">-<' not in cards  # w1 was acknowledged
