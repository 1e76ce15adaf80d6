"""view-execution-telemetry and telemetry-export on a session with poisoned lines (beyond
the datetime range, nesting 2000 deep, numbers beyond a double): no traceback, the lines
counted invalid, everything else as usual."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow.parquet as pq

from tests.query.poisoned_lines import poisoned_lines

GOOD = (
    b'{"ts": "2026-01-01T00:00:0%d+00:00", "session_id": "p", "symbol": "X", "kind": "error", '
    b'"payload": {"error": "venue down"}}\n'
)


def cli(root, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args, "--path", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_summary_check_and_exports_skip_poisoned_lines(tmp_path, repo_root):
    root = tmp_path / "logs"
    root.mkdir()
    good = [GOOD % i for i in range(3)]
    (root / "p.jsonl").write_bytes(b"".join(good[:2] + poisoned_lines("p") + good[2:]))
    view = ("src.cli.view_telemetry", "--session", "p")
    summary = cli(root, *view, "--summary", "--plain")
    assert summary.returncode == 0 and "Traceback" not in summary.stderr, summary.stderr
    assert "Total events: 3" in summary.stdout, summary.stdout
    assert "Valid events: 3" in summary.stdout and "Invalid lines: 4" in summary.stdout
    check = cli(root, *view, "--check")
    assert "Traceback" not in check.stderr and check.returncode in (0, 1, 2), check.stderr
    timeline = cli(root, *view, "--json")
    assert timeline.returncode == 0
    assert [json.loads(line)["kind"] for line in timeline.stdout.splitlines()] == ["error"] * 3
    out = tmp_path / "pq"
    export = cli(root, "src.cli.export_telemetry", "--format", "parquet", "-o", str(out))
    assert export.returncode == 0, export.stderr
    assert pq.read_table(out).num_rows == 3
