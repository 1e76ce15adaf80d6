"""telemetry-export: formats from names, filters, refusals, exit codes, progress on a TTY."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from src.cli.common import EXIT_INPUT, EXIT_OK
from src.cli.export_telemetry import main
from src.common.progress import byte_progress

ROOT = Path(__file__).resolve().parents[2]
FIX = str(ROOT / "tests" / "fixtures" / "execution_telemetry")


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_exports_a_filtered_session_by_file_name(tmp_path, capsys):
    """-o fills.csv with --type fill writes CSV of the fills and reports the count."""
    out = tmp_path / "fills.csv"
    code = main(["--path", FIX, "--session", "session_clean", "--type", "fill", "-o", str(out)])
    assert code == EXIT_OK
    assert out.read_text().count("\n") == 1 + 4
    assert "exported 4 events (fill 4) as csv" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("a.jsonl.gz", lambda p: p.read_bytes()[:2] == b"\x1f\x8b"),
        ("a.xlsx", lambda p: p.read_bytes()[:2] == b"PK"),
        ("pq/", lambda p: len(list(p.rglob("*.parquet"))) == 4),
    ],
)
def test_format_follows_the_output_name(tmp_path, name, check):
    """.jsonl.gz is gzip, .xlsx a workbook, a trailing slash a Parquet dataset."""
    out = tmp_path / name
    assert main(["--path", FIX, "-o", str(out) + ("/" if name.endswith("/") else "")]) == 0
    assert check(out)


def test_standard_output(capsys):
    """-o - with --format jsonl writes the events to stdout."""
    sink = io.BytesIO()
    assert (
        main(
            ["--path", FIX, "--session", "session_latency", "-o", "-", "--format", "jsonl"],
            stdout=sink,
        )
        == EXIT_OK
    )
    assert sink.getvalue().count(b"\n") == 25


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--session", "session_clen", "-o", "x.csv"], "did you mean: session_clean"),
        (["--from", "yesterday", "-o", "x.csv"], "invalid time 'yesterday'"),
        (["-o", "x.txt"], "name it with --format"),
        (["-o", "-", "--format", "xlsx"], "xlsx cannot go to standard output"),
        (["--path", "/nonexistent/logs", "-o", "x.csv"], "does not exist"),
    ],
)
def test_bad_input_is_one_line_and_exit_3(tmp_path, capsys, monkeypatch, args, message):
    """Unknown session, bad time, unknown format, impossible target, missing path: exit 3."""
    monkeypatch.chdir(tmp_path)
    argv = args if "--path" in args else ["--path", FIX, *args]
    assert main(argv) == EXIT_INPUT
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_existing_output_needs_force(tmp_path, capsys):
    """A second export to the same file is refused (exit 3) until --force."""
    out = tmp_path / "a.csv"
    assert main(["--path", FIX, "-o", str(out)]) == EXIT_OK
    out.write_text("edited")
    assert main(["--path", FIX, "-o", str(out)]) == EXIT_INPUT
    assert "already exists (use --force" in capsys.readouterr().err
    assert out.read_text() == "edited"
    assert main(["--path", FIX, "-o", str(out), "--force"]) == EXIT_OK
    assert out.read_text().startswith("ts,session_id")


def test_progress_bar_only_on_a_terminal():
    """byte_progress draws on a TTY and yields None when stderr is piped."""
    tty = Tty()
    with byte_progress(1000, "exporting", stream=tty, show_after=0) as progress:
        assert progress is not None
        progress(400)
        progress(600)
    assert "exporting" in tty.getvalue()
    with byte_progress(1000, "exporting", stream=io.StringIO()) as progress:
        assert progress is None


def test_runs_as_a_module(tmp_path):
    """python -m src.cli.export_telemetry works from the repository root."""
    out = tmp_path / "a.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "src.cli.export_telemetry", "--path", FIX, "-o", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes().count(b"\n") == 67
