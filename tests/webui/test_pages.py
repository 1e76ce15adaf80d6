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
