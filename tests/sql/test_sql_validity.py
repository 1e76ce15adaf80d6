"""telemetry-sql counts a line exactly when the query layer does, and one damaged archive
file costs only itself."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

from src.query.engine import iter_events, summarize
from src.query.filters import EventFilter
from src.query.lines import MAX_LINE_BYTES
from src.query.records import ParseStats
from src.sql import connect


def line(ts: str = "2025-01-01T00:00:00Z", **extra: str) -> bytes:
    """A fill line in our logger's shape; ``extra`` replaces fields with raw JSON text."""
    fields = {"ts": f'"{ts}"', "session_id": '"s"', "symbol": '"X"', "kind": '"fill"',
              "payload": '{"client_id": "c1", "fill_price": 100.5}'}  # fmt: skip
    fields.update(extra)
    return b"{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()).encode() + b"}\n"


# The query layer's verdict on each: SQL used to disagree on every one of these.
INVALID = [
    line(payload='{"fill_price": NaN}'),
    line(payload='{"fill_price": Infinity}'),
    line(payload='{"fill_price": 1e400}'),
    line(payload='{"filled_quantity": ' + "9" * 330 + "}"),
    line(payload='{"x": ' + "[" * 100 + "]" * 100 + "}"),
    line(kind='["fill"]'),
    line(symbol='{"s": "X"}'),
    line(payload='{"client_id": ["c1"]}'),
    line(ts="9999-12-31T23:59:59-23:59"),
    line(ts="0001-01-01T00:00:00+01:00"),
]
VALID = [
    line(),
    line(ts="2025-01-01T00:00:00"),  # naive: UTC
    line(ts="2025-01-01 01:00:00+01:00"),
    line(ts="20250101T000000Z"),
    line(ts="2025-01-01t00:00:00z"),
    line(ts="2025-01-01T00:00:00.000001+00:00"),
    line(payload='{"fill_price": 18446744073709551616}'),  # beyond 64 bits: a double
]


def sql_count(root: Path, where: str = "true") -> int:
    con = connect(root, threads=1)
    try:
        return con.sql(f"SELECT count(*) FROM events WHERE {where}").fetchall()[0][0]
    finally:
        con.close()


def test_sql_takes_exactly_the_lines_the_query_layer_takes(tmp_path):
    (tmp_path / "s.jsonl").write_bytes(b"".join(INVALID + VALID))
    parse = summarize(tmp_path, EventFilter.build(session_id="s")).parse
    assert (parse.valid_events, parse.invalid_lines) == (len(VALID), len(INVALID))
    assert sql_count(tmp_path) == len(VALID)
    # Every ISO form is the same instant in SQL (all are 2025-01-01T00:00:00Z).
    assert sql_count(tmp_path, "ts = TIMESTAMPTZ '2025-01-01 00:00:00+00'") == len(VALID) - 1


def test_a_line_after_a_killed_writers_fragment_is_in_sql(tmp_path):
    whole = line(ts="2025-01-01T00:00:01Z")
    (tmp_path / "s.jsonl").write_bytes(line() + whole[:40] + whole + line())
    stats = ParseStats()
    assert len(list(iter_events(tmp_path, EventFilter(), stats))) == 3
    assert (stats.total_lines, stats.invalid_lines) == (4, 1)
    assert sql_count(tmp_path) == 3
    assert sql_count(tmp_path, "ts = TIMESTAMPTZ '2025-01-01 00:00:01+00'") == 1


def test_damaged_archives_cost_only_themselves(tmp_path, repo_root):
    """Bad CRC, truncated gzip, plain text named .gz: telemetry-sql answers from the rest
    (and from what decodes before the damage) and names each damaged file."""
    events = b"".join(line(ts=f"2025-01-01T00:00:{i:02d}Z") for i in range(40))
    (tmp_path / "good.jsonl").write_bytes(events[: len(events) // 40 * 3])
    crc = bytearray(gzip.compress(events))
    crc[-8] ^= 0xFF  # the stored CRC-32
    (tmp_path / "crc.jsonl.gz").write_bytes(bytes(crc))
    many = b"".join(line(ts=f"2025-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z") for i in range(3000))
    packed = gzip.compress(many)
    (tmp_path / "trunc.jsonl.gz").write_bytes(packed[: len(packed) // 2])
    (tmp_path / "text.jsonl.gz").write_bytes(events)
    done = subprocess.run(
        [sys.executable, "-m", "src.cli.sql_telemetry", "--path", str(tmp_path), "--format",
         "csv", "SELECT session_id, count(*) AS n FROM events GROUP BY 1 ORDER BY 1"],
        capture_output=True, text=True, timeout=120, cwd=repo_root,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    counts = dict(row.split(",") for row in done.stdout.split()[1:])
    assert counts["good"] == "3" and counts["crc"] == "40"
    assert 0 < int(counts["trunc"]) < 3000 and "text" not in counts
    warnings = done.stderr.splitlines()
    for name in ("crc.jsonl.gz", "trunc.jsonl.gz", "text.jsonl.gz"):
        assert sum(name in w for w in warnings) == 1, done.stderr
    assert "warning: 3 damaged archive file(s)" in done.stderr


def test_a_line_over_the_cap_is_not_in_sql(tmp_path):
    """Over MAX_LINE_BYTES a line is invalid in every reader, SQL too (plain and gzip)."""
    huge = line(payload='{"client_id": "c1", "note": "' + "x" * MAX_LINE_BYTES + '"}')
    body = line() + huge + line(ts="2025-01-01T00:00:01Z")
    (tmp_path / "s.jsonl").write_bytes(body)
    (tmp_path / "g.jsonl.gz").write_bytes(gzip.compress(body.replace(b'"s"', b'"g"')))
    parse = summarize(tmp_path, EventFilter()).parse
    assert (parse.valid_events, parse.invalid_lines) == (4, 2)
    assert sql_count(tmp_path) == 4


def test_only_a_json_true_passes_a_gate(tmp_path):
    """A gate whose passed is the string "1" or "true", the number 1 or null blocks, as the
    summary and the timeline read it; DuckDB's cast alone would take "1" for true."""
    lines = [
        f'{{"ts":"2025-01-01T00:00:0{i}+00:00","session_id":"s","symbol":"X","mode":"paper",'
        f'"kind":"gate","payload":{{"gate_name":"G","passed":{passed}}}}}'
        for i, passed in enumerate(["true", "false", '"1"', '"true"', "1", "null"])
    ]
    (tmp_path / "s.jsonl").write_text("\n".join(lines) + "\n")
    con = connect(tmp_path, threads=1)
    try:
        got = [row[0] for row in con.sql("SELECT passed FROM events ORDER BY ts").fetchall()]
    finally:
        con.close()
    assert got == [True, False, None, None, None, None]
