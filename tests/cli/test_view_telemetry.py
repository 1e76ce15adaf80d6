"""view_execution_telemetry: flags, output formats, exit codes, errors, progress."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from src.cli.view_telemetry import EXIT_CRITICAL, EXIT_INPUT, EXIT_OK, EXIT_WARNING, main
from src.common.progress import scan_progress

ROOT = Path(__file__).resolve().parents[2]
FIX = str(ROOT / "tests" / "fixtures" / "execution_telemetry")


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["--path", FIX, *args], stdout=out)
    return code, out.getvalue()


def test_summary_prints_the_runbook_lines():
    """--summary prints totals, time range, latency lines and parse statistics as documented."""
    code, text = run("--session", "session_latency", "--summary")
    assert code == EXIT_OK
    lines = text.splitlines()
    assert "=== Execution Telemetry Summary ===" in lines
    assert "Total events: 25" in lines
    assert "Time range: 2025-12-20T10:00:00Z to 2025-12-20T10:00:41.750000Z" in lines
    assert "Latency (intent->order): avg 70ms, p50 30ms, p95 250ms, max 250ms (n=5)" in lines
    assert "Latency (order->fill): avg 422ms, p50 120ms, p95 1500ms, max 1500ms (n=5)" in lines
    assert "Parse Statistics:" in lines and "  Error rate: 0.00%" in lines
    assert "Fills: 5 fills for 5 orders (fill rate 100.00%)" in lines


def test_summary_parse_statistics_of_bad_lines():
    """Bad-line fixture: exact totals and error rate."""
    _, text = run("--session", "session_bad_lines", "--summary")
    for line in [
        "  Total lines: 15",
        "  Valid events: 10",
        "  Invalid lines: 5",
        "  Error rate: 33.33%",
    ]:
        assert line in text.splitlines()


def test_summary_includes_slippage_gates_and_missing_fills():
    """The summary reports slippage, gate rejections and orders without fills."""
    _, text = run("--session", "session_clean", "--summary")
    assert "Gate rejections: 1 of 5 intents (20.00%)" in text
    assert "  MaxNotional: 1/5 (20.00%); top: notional 5,000,000.00 exceeds max 250,000.00" in text
    assert "Slippage (positive = worse): avg +2.00 bps" in text
    assert "Orders without fills: 0" in text


def test_timeline_newest_first_with_filters():
    """--type fill --timeline 2 prints the two newest fills, newest first, one line each."""
    code, text = run("--session", "session_latency", "--type", "fill", "--timeline", "2")
    assert code == EXIT_OK
    assert text.splitlines() == [
        "2025-12-20T10:00:41.750000Z [fill] BTC-USD Fill: 1.000000 @ $100,000.00 (fee: $1.0000)",
        "2025-12-20T10:00:30.320000Z [fill] BTC-USD Fill: 1.000000 @ $100,000.00 (fee: $1.0000)",
    ]


def test_limit_caps_the_timeline():
    """--limit 3 with --timeline 50 prints 3 events."""
    _, text = run("--session", "session_clean", "--limit", "3", "--timeline", "50")
    assert len(text.splitlines()) == 3


def test_time_window_and_symbol_combine():
    """--symbol with --from/--to selects instants in the window only."""
    _, text = run(
        "--symbol",
        "ETH-USD",
        "--from",
        "2025-12-20T10:01:00Z",
        "--to",
        "2025-12-20T10:01:59+00:00",
        "--timeline",
        "100",
    )
    rows = text.splitlines()
    assert rows and all("ETH-USD" in r and r.startswith("2025-12-20T10:01") for r in rows)


def test_json_is_only_json_lines_in_file_order_with_spec_spacing():
    """--json prints parseable lines only, oldest first, keeping '"kind": "fill"' greppable."""
    code, text = run("--session", "session_clean", "--json")
    assert code == EXIT_OK
    lines = text.splitlines()
    records = [json.loads(x) for x in lines]
    assert len(records) == 22
    assert [r["ts"] for r in records] == sorted(r["ts"] for r in records)
    assert sum('"kind": "fill"' in x for x in lines) == 4


def test_json_with_limit_gives_the_newest_in_order():
    """--json --limit 2 gives the last two events, still oldest first."""
    _, text = run("--session", "session_clean", "--json", "--limit", "2")
    assert [json.loads(x)["kind"] for x in text.splitlines()] == ["intent", "gate"]


@pytest.mark.parametrize(
    ("session", "extra", "code"),
    [
        ("session_clean", [], EXIT_OK),
        ("session_latency", [], EXIT_WARNING),
        ("session_bad_lines", [], EXIT_CRITICAL),
        ("session_latency", ["--p95-crit-ms", "1000"], EXIT_CRITICAL),
    ],
)
def test_check_exit_codes(session, extra, code):
    """--check exits 0 healthy, 1 warning, 2 critical, and says why."""
    got, text = run("--session", session, "--check", *extra)
    assert got == code
    assert text.splitlines()[-1] == f"status: {['OK', 'WARNING', 'CRITICAL'][code]}"


def test_check_flags_missing_fills_and_zero_fill_rate(tmp_path):
    """An old order without fill is a warning; orders with no fill at all are critical."""
    line = {
        "ts": "2025-01-01T00:00:00Z",
        "session_id": "s",
        "symbol": "X",
        "mode": "paper",
        "kind": "order",
        "payload": {"client_id": "c1", "side": "buy", "quantity": 1},
    }
    (tmp_path / "s.jsonl").write_text(json.dumps(line) + "\n")
    out = io.StringIO()
    assert main(["--path", str(tmp_path), "--session", "s", "--check"], stdout=out) == EXIT_CRITICAL
    assert "fill rate 0%" in out.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--session", "sesion_clean"], "did you mean: session_clean"),
        (["--session", "../etc"], "invalid session_id '../etc'"),
        (["--from", "yesterday"], "invalid time 'yesterday'"),
        (["--limit", "-5"], "invalid number '-5'"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_input_is_one_line_and_exit_3(capsys, args, message):
    """Unknown session (with close matches), unsafe id, bad time, bad flag: one line, exit 3."""
    try:
        code = main(["--path", FIX, *args])
    except SystemExit as exc:  # argparse reports flag errors by exiting
        code = exc.code
    assert code == EXIT_INPUT
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_missing_path_is_an_error(capsys, tmp_path):
    """A log path that does not exist is named in the error."""
    assert main(["--path", str(tmp_path / "nope"), "--summary"]) == EXIT_INPUT
    assert "nope" in capsys.readouterr().err


def test_rich_tables_on_a_terminal_plain_when_piped():
    """On a terminal the timeline is a rich table; piped output has no box drawing."""
    tty = Tty()
    main(["--path", FIX, "--session", "session_clean", "--timeline", "3"], stdout=tty)
    assert "┃" in tty.getvalue() or "│" in tty.getvalue()
    _, plain = run("--session", "session_clean", "--timeline", "3")
    assert "│" not in plain


def test_progress_bar_draws_on_a_terminal_only():
    """The scan progress bar writes to a terminal stream and stays silent otherwise."""
    tty = Tty()
    with scan_progress(tty, show_after=0) as update:
        update(1, 2, 100)
        update(2, 2, 200)
    assert "scanning" in tty.getvalue()
    with scan_progress(io.StringIO(), show_after=0) as update:
        assert update is None


def test_help_documents_exit_codes():
    """--help lists the exit codes."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "view_execution_telemetry.py"), "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "exit codes:" in out.stdout and "2  --check: critical" in out.stdout


def test_script_and_pipe_through_real_processes():
    """The runbook's pipeline works: script --json | jq -r .ts | sort -c succeeds."""
    cmd = (
        f"{sys.executable} scripts/view_execution_telemetry.py --path {FIX} "
        "--session session_clean --json | jq -r .ts | sort -c"
    )
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", cmd], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--type", "fills"], "unknown event kind 'fills': expected one of intent, order, fill"),
        (["--type", "fill,bogus"], "unknown event kind 'bogus'"),
        (["--check", "--fill-timeout", "nan"], "invalid number 'nan'"),
        (["--check", "--fill-timeout", "inf"], "invalid number 'inf'"),
        (["--check", "--fill-timeout", "-5"], "invalid number '-5'"),
        (["--check", "--p95-warn-ms", "nan"], "invalid number 'nan'"),
        (["--timeline", "0"], "invalid number '0'"),
        (["--timeline", "-3"], "invalid number '-3'"),
        (
            ["--from", "2025-12-20T10:01:00Z", "--to", "2025-12-20T10:00:00Z"],
            "from '2025-12-20T10:01:00Z' is after to '2025-12-20T10:00:00Z'",
        ),
    ],
)
def test_bad_values_are_named_in_one_line_with_exit_3(args, message):
    """Unknown kind, NaN/inf/negative thresholds, zero timeline, an inverted window: exit 3."""
    done = subprocess.run(
        [sys.executable, "-m", "src.cli.view_telemetry", "--path", FIX,
         "--session", "session_clean", *args],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == EXIT_INPUT, done.stderr
    assert message in done.stderr and done.stderr.count("\n") == 1
    assert done.stdout == ""


@pytest.mark.parametrize(
    "args", [["--summary"], ["--timeline", "5"], ["--json"], ["--check"], []], ids=str
)
def test_a_valid_query_matching_nothing_says_so_and_exits_0(capsys, args):
    """Nothing matched is not an error: one note on stderr, exit 0 (stdout keeps its format)."""
    code = main(["--path", FIX, "--session", "session_clean", "--symbol", "NOPE", *args])
    assert code == EXIT_OK
    assert capsys.readouterr().err == "no events matched\n"


def test_a_query_with_matches_prints_no_note(capsys):
    """The note appears only when nothing matched."""
    assert main(["--path", FIX, "--session", "session_clean", "--timeline", "1"]) == EXIT_OK
    assert capsys.readouterr().err == ""


def test_json_ts_is_one_fixed_width_utc_form_so_sort_c_holds(tmp_path):
    """Mixed precisions and offsets in time order pass `jq -r .ts | sort -c`; the instant is
    kept, written as UTC with microseconds and +00:00."""
    stamps = [
        "2025-01-01T12:00:00Z",
        "2025-01-01T12:00:00.050000Z",
        "2025-01-01T13:00:00.100+01:00",  # 12:00:00.1 UTC
        "2025-01-01T12:00:01",  # naive: UTC
        "2025-01-01T12:00:01.5+00:00",
    ]
    lines = [
        json.dumps({"ts": ts, "session_id": "s", "symbol": "X", "mode": "paper",
                    "kind": "error", "payload": {"message": "m"}})
        for ts in stamps
    ]  # fmt: skip
    (tmp_path / "s.jsonl").write_text("\n".join(lines) + "\n")
    view = f"{sys.executable} -m src.cli.view_telemetry --path {tmp_path} --session s --json"
    sort_c = subprocess.run(
        ["bash", "-o", "pipefail", "-c", f"{view} | jq -r .ts | sort -c"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert sort_c.returncode == 0, sort_c.stderr
    got = subprocess.run(
        ["bash", "-o", "pipefail", "-c", f"{view} | jq -r .ts"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert got == [
        "2025-01-01T12:00:00.000000+00:00",
        "2025-01-01T12:00:00.050000+00:00",
        "2025-01-01T12:00:00.100000+00:00",
        "2025-01-01T12:00:01.000000+00:00",
        "2025-01-01T12:00:01.500000+00:00",
    ]
