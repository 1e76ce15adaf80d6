"""Adding a payload key or a kind is a change in src/execution/schema.py only.

A copy of ``src`` whose schema.py alone is edited (a new fill key, a new ``amend`` kind)
is run in a fresh interpreter: events, the lean decoders, the validity of names, the
summary and the bridge, the exports, the SQL views, import normalisation and the
dashboard's kind parameter all know the new key and kind without another edit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

# (anchor, replacement): each anchor must occur exactly once in schema.py.
EDITS = [
    (
        '"ack", "partial_fill", "cancel", "expire", "reject"\n]',
        '"ack", "partial_fill", "cancel", "expire", "reject", "amend"\n]',
    ),
    (
        "    reference_price: Number = None\n"
        "    order_id: Annotated[Name, PAYLOAD_ONLY] = None\n\n\nclass CancelPayload",
        "    reference_price: Number = None\n    venue_latency_ms: Number = None\n"
        "    order_id: Annotated[Name, PAYLOAD_ONLY] = None\n\n\nclass CancelPayload",
    ),
    (
        "class CommonPayload(Payload):",
        "class AmendPayload(Payload):\n"
        "    client_id: Name = None\n"
        "    amended_quantity: Number = None\n"
        "    reason: Text = None\n\n\n"
        "class CommonPayload(Payload):",
    ),
    ('    "error": ErrorPayload,\n', '    "error": ErrorPayload,\n    "amend": AmendPayload,\n'),
]

CHECKS = r"""
import csv, sys, typing
from datetime import UTC, datetime
from pathlib import Path

import src
root = Path(sys.argv[1])
assert Path(src.__file__).is_relative_to(root / "src"), src.__file__  # the edited copy

from src.execution.events import KINDS, ExecutionEvent
from src.execution.serialization import encode_event_line

assert "amend" in KINDS
ts = datetime(2025, 1, 1, tzinfo=UTC)
fill = ExecutionEvent(ts=ts, session_id="s", symbol="X", mode="paper", kind="fill",
                      payload={"client_id": "c1", "fill_price": 10.0, "venue_latency_ms": 3})
amend = ExecutionEvent(ts=ts, session_id="s", symbol="X", mode="paper", kind="amend",
                        payload={"client_id": "c2", "amended_quantity": 2.0, "reason": "r"})
lines = [encode_event_line(e) for e in (fill, amend)]

# the lean decoders take both on the fast path (they forbid undeclared keys)
from src.query import records, scan_events
for line in lines:
    scan_events.scan_decoder.decode(line)
    records.scan_decoder.decode(line)
assert type(scan_events.scan_decoder.decode(lines[1])) is scan_events.EVENT_TYPES["amend"]
assert records.decode_scan(lines[0]).payload.venue_latency_ms == 3

# a name readers group by: an array there makes the new kind's line invalid
bad = lines[1].replace(b'"client_id":"c2"', b'"client_id":["c2"]')
assert bad != lines[1] and records.decode_record(bad) is None and records.decode_scan(bad) is None

logs = root / "logs"
logs.mkdir()
(logs / "s.jsonl").write_bytes(b"".join(lines))

# summary and bridge count the new kind
from src.live.execution_bridge import get_execution_summary
summary = get_execution_summary("s", base_path=logs)
assert summary["kind_counts"]["amend"] == 1 and summary["kind_counts"]["fill"] == 1, summary
assert list(summary["kind_counts"]) == list(KINDS)

# exports: typed columns of their own
from src.export import columns, export
from src.query.filters import EventFilter
assert {"venue_latency_ms", "amended_quantity"} <= set(columns.FLAT_COLUMNS)
assert columns.KIND_COLUMNS["amend"] == ("client_id", "amended_quantity", "reason")
export(logs, EventFilter(), "csv", root / "out.csv")
rows = list(csv.DictReader((root / "out.csv").open()))
assert rows[0]["venue_latency_ms"] == "3" and rows[1]["amended_quantity"] == "2.0", rows

# SQL: typed columns and a view for the new kind
from src.sql import connect
con = connect(logs)
assert con.sql("SELECT venue_latency_ms, typeof(venue_latency_ms) FROM fills").fetchall() == [
    (3.0, "DOUBLE")
]
assert con.sql("SELECT client_id, amended_quantity FROM amends").fetchall() == [("c2", 2.0)]

# import normalisation converts the new numbers
from src.importers import normalize
event = normalize({"ts": "2025-01-01T00:00:00Z", "kind": "amend", "session_id": "s",
                   "mode": "paper", "amended_quantity": "2", "venue_latency_ms": "1"})
assert event.kind == "amend" and event.payload["amended_quantity"] == 2.0, event

# the dashboard's kind parameter and the CLI's kind check accept it
from src.webui.deps import KindParam
assert "amend" in typing.get_args(KindParam)
import argparse
from src.cli.common import add_filter_args, check_kinds
check_kinds("fill,amend")  # raises BadInput for an unknown kind
parser = argparse.ArgumentParser()
add_filter_args(parser)
help_text = " ".join(parser.format_help().split()).replace("_f ill", "_fill")
assert "reject,amend" in help_text, help_text
print("ok")
"""


def _edited_copy(tmp_path: Path) -> Path:
    shutil.copytree(SRC, tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    schema = tmp_path / "src" / "execution" / "schema.py"
    text = schema.read_text()
    for anchor, replacement in EDITS:
        assert text.count(anchor) == 1, anchor
        text = text.replace(anchor, replacement)
    schema.write_text(text)
    return tmp_path


def test_a_new_key_and_a_new_kind_need_only_the_schema(tmp_path):
    """Everything that knows kinds and payload keys picks up schema.py's new ones."""
    root = _edited_copy(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", CHECKS, str(root)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "ok"
