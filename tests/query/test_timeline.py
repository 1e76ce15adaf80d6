"""Timeline descriptions of the kinds of an order's life: one readable line each, like the
original kinds' (no generic ``Kind: key=value`` dump), plain text whatever the log holds."""

from __future__ import annotations

import io

import pytest

from src.cli.view_telemetry import main as view_main
from src.execution.telemetry import JsonlExecutionLogger
from src.live.execution_bridge import get_execution_timeline
from src.query.timeline import describe
from tests.execution.lifecycle_scenario import SESSION, run_every_path
from tests.query.orders_sessions import T0, line


@pytest.mark.parametrize(
    ("kind", "payload", "text"),
    [
        ("ack", {"client_id": "ord_x", "order_id": "pap-12"}, "Acknowledged ord_x (venue pap-12)"),
        ("ack", {"client_id": "ord_x"}, "Acknowledged ord_x"),
        (
            "partial_fill",
            {
                "client_id": "o",
                "filled_quantity": 3,
                "fill_price": 101.2,
                "cumulative_quantity": 3.0,
                "remaining_quantity": 7.0,
            },
            "Partial fill 3 of 10 @ $101.20 (7 left)",
        ),
        (
            "partial_fill",
            {"filled_quantity": 0.25, "fill_price": "2.5"},
            "Partial fill 0.25 @ $2.50",
        ),
        (
            "cancel",
            {
                "client_id": "ord_x",
                "reason": "requested",
                "filled_quantity": 3,
                "remaining_quantity": 7,
            },
            "Cancelled ord_x: requested (3 of 10 filled)",
        ),
        (
            "expire",
            {
                "client_id": "ord_x",
                "time_in_force": "IOC",
                "filled_quantity": 0,
                "remaining_quantity": 5,
            },
            "Expired ord_x: IOC (0 of 5 filled)",
        ),
        (
            "reject",
            {"client_id": "ord_x", "reason": "insufficient balance: 7,000.70, 1,200.00 available"},
            "Rejected ord_x: insufficient balance: 7,000.70, 1,200.00 available",
        ),
        ("reject", {"order_id": "v9"}, "Rejected v9"),
        (
            "cancel",
            {"client_id": {"a": 1}, "filled_quantity": "x"},
            "Cancelled {'a': 1} (? filled)",
        ),
        ("expire", [], "Expired ?"),
    ],
)
def test_descriptions(kind, payload, text):
    assert describe(kind, payload) == text


def test_every_kind_of_a_real_session_reads_as_a_sentence(tmp_path):
    """The paper pipeline's own events (every path of an order's life)."""
    with JsonlExecutionLogger(tmp_path, fsync="none") as logger:
        ids = run_every_path(logger)
    rows = get_execution_timeline(session_id=SESSION, base_path=str(tmp_path), limit=10_000)
    by_kind: dict[str, list[str]] = {}
    for row in rows:
        by_kind.setdefault(row.kind, []).append(row.description)
    starts = {"ack": "Acknowledged ", "partial_fill": "Partial fill ", "cancel": "Cancelled ",
              "expire": "Expired ", "reject": "Rejected "}  # fmt: skip
    for kind, start in starts.items():
        assert by_kind[kind], kind
        for text in by_kind[kind]:
            assert text.startswith(start) and "=" not in text, text
    assert any(ids["balance_rejected"] in t and "balance" in t for t in by_kind["reject"])
    assert any(t.endswith(" left)") and " of " in t for t in by_kind["partial_fill"])


def test_the_terminal_strips_control_characters_of_a_reason(tmp_path):
    (tmp_path / "s.jsonl").write_text(
        line(T0, "reject", session="s", client_id="c\x1b[2J1", reason="bad\x07 <b>x</b>") + "\n"
    )
    out = io.StringIO()
    assert view_main(["--path", str(tmp_path), "--session", "s"], stdout=out) == 0
    text = out.getvalue()
    assert "Rejected c[2J1: bad <b>x</b>" in text or "Rejected c1: bad <b>x</b>" in text, text
    assert "\x1b" not in text and "\x07" not in text
