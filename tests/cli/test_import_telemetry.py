"""telemetry-import: report format, exit codes, --dry-run, --rejects, --session-id, refusals."""

from __future__ import annotations

from pathlib import Path

import orjson

from src.cli.common import EXIT_FAILED, EXIT_INPUT, EXIT_OK
from src.cli.import_telemetry import main

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "execution_telemetry"


def test_bad_rows_are_reported_and_exit_1(tmp_path, capsys):
    """The bad-lines fixture: 5 rows reported as FILE:LINE: reason, 10 imported, exit 1."""
    src = FIX / "session_bad_lines.jsonl"
    code = main([str(src), "--path", str(tmp_path / "logs")])
    err = capsys.readouterr().err.splitlines()
    assert code == EXIT_FAILED
    assert f"{src}:4: not JSON (invalid literal, expected 'true')" in err
    assert f"{src}:8: not a JSON object" in err
    assert f"{src}:9: missing ts (or timestamp/time)" in err
    assert f"{src}:12: not JSON (str is not valid UTF-8)" in err
    assert f"{src}:15: not JSON (unexpected end of data)" in err
    assert err[-1] == (
        f"imported 10 events (session_bad_lines 10) into {tmp_path / 'logs'}; 5 bad rows skipped"
    )
    assert (tmp_path / "logs" / "session_bad_lines.jsonl").read_bytes().count(b"\n") == 10


def test_rejects_file_holds_every_bad_row(tmp_path):
    """--rejects writes one JSON line per bad row: line, reason and the row itself."""
    rejects = tmp_path / "rejects.jsonl"
    main([str(FIX / "session_bad_lines.jsonl"), "--path", str(tmp_path), "--rejects", str(rejects)])
    rows = [orjson.loads(x) for x in rejects.read_bytes().splitlines()]
    assert [r["line"] for r in rows] == [4, 8, 9, 12, 15]
    assert rows[0]["row"] == "this is not json"


def test_clean_import_with_session_and_mode(tmp_path, capsys):
    """A flat foreign CSV with --session-id and --mode imports fully: exit 0."""
    src = tmp_path / "broker.csv"
    src.write_text(
        "time,symbol,type,clOrdId,side,qty,price\n1766224800000,ETH-USD,fill,c1,S,2,3500\n"
    )
    assert (
        main(
            [
                str(src),
                "--path",
                str(tmp_path / "logs"),
                "--session-id",
                "broker-1",
                "--mode",
                "live",
            ]
        )
        == EXIT_OK
    )
    line = orjson.loads((tmp_path / "logs" / "broker-1.jsonl").read_bytes())
    assert line["ts"] == "2025-12-20T10:00:00+00:00" and line["mode"] == "live"
    assert line["payload"] == {
        "client_id": "c1",
        "side": "sell",
        "filled_quantity": 2.0,
        "fill_price": 3500.0,
    }


def test_dry_run_and_refusals(tmp_path, capsys):
    """--dry-run writes nothing; an existing session is refused with exit 3; bad flags exit 3."""
    src = FIX / "session_clean.jsonl"
    assert main([str(src), "--path", str(tmp_path / "logs"), "--dry-run"]) == EXIT_OK
    assert "would import 22 events" in capsys.readouterr().err
    assert not (tmp_path / "logs").exists()
    assert main([str(src), "--path", str(tmp_path / "logs")]) == EXIT_OK
    assert main([str(src), "--path", str(tmp_path / "logs")]) == EXIT_INPUT
    assert "already has a log" in capsys.readouterr().err
    assert main([str(tmp_path / "missing.csv")]) == EXIT_INPUT
    assert main([str(src), "--mode", "prod-ish"]) == EXIT_INPUT
    (tmp_path / "notes.txt").write_text("x")
    assert main([str(tmp_path / "notes.txt")]) == EXIT_INPUT
    assert "name it with --format" in capsys.readouterr().err


def test_an_imported_copy_does_not_collide_with_its_original(tmp_path):
    """Export a session and import it next to the original as another session: the copy's
    events have ids of their own (the original's in payload origin_event_id), so a summary
    of the whole root counts both sessions' fills, none as a duplicate."""
    import shutil
    import subprocess
    import sys

    from src.query.engine import summarize
    from src.query.filters import EventFilter

    root = tmp_path / "logs"
    root.mkdir()
    shutil.copy(FIX / "session_clean.jsonl", root)
    exported = tmp_path / "clean.jsonl"
    for argv in (
        ["src.cli.export_telemetry", "--path", str(root), "--session", "session_clean",
         "--format", "jsonl", "--output", str(exported)],
        ["src.cli.import_telemetry", str(exported), "--path", str(root),
         "--session-id", "clean-copy"],
    ):  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-m", *argv], cwd=FIX.parents[2], capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        assert done.returncode == EXIT_OK, done.stderr
    original = [orjson.loads(x) for x in (root / "session_clean.jsonl").read_bytes().splitlines()]
    copy = [orjson.loads(x) for x in (root / "clean-copy.jsonl").read_bytes().splitlines()]
    assert [c["payload"]["origin_event_id"] for c in copy] == [o["event_id"] for o in original]
    assert not {c["event_id"] for c in copy} & {o["event_id"] for o in original}
    one = summarize(root, EventFilter.build(session_id="session_clean")).fills
    both = summarize(root, EventFilter()).fills
    assert both.fills == 2 * one.fills > 0
    assert both.duplicate_fills == 0


def test_an_instant_out_of_range_is_a_bad_row_not_a_crash(tmp_path, capsys):
    """A time that leaves the datetime range once converted to UTC (the hardening issue's
    own example) is one bad row, named; the other rows still import (it was a traceback)."""
    src = tmp_path / "far.jsonl"
    row = {"session_id": "far", "symbol": "X", "mode": "paper", "kind": "intent", "payload": {}}
    times = ["9999-12-31T23:59:59-23:59", "0001-01-01T00:30:00+01:00", "2025-01-01T00:00:00Z"]
    src.write_bytes(b"".join(orjson.dumps({**row, "ts": t}) + b"\n" for t in times))
    code = main([str(src), "--path", str(tmp_path / "logs")])
    err = capsys.readouterr().err.splitlines()
    assert code == EXIT_FAILED
    assert f"{src}:1: invalid time '9999-12-31T23:59:59-23:59'" in err[0]
    assert f"{src}:2: invalid time '0001-01-01T00:30:00+01:00'" in err[1]
    assert err[-1].startswith("imported 1 events (far 1)")
