"""view-execution-telemetry --orders, --follow and relative times: real sessions, real
subprocesses for following, exit 3 for bad input, no control characters on a terminal."""

from __future__ import annotations

import io
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from src.cli.common import BadInput, resolve_time
from src.cli.view_telemetry import EXIT_INPUT, EXIT_OK, main
from src.query.orders import OrderRow
from tests.query.orders_sessions import NEWEST_FIRST, SESSION, T0, line, write_session

ROOT = Path(__file__).resolve().parents[2]


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def base(tmp_path):
    root = tmp_path / "logs"
    write_session(root)
    return root


def run(base, *args, stdout=None):
    out = stdout or io.StringIO()
    code = main(["--path", str(base), "--session", SESSION, *args], stdout=out)
    return code, out.getvalue()


def test_orders_table_newest_first(base):
    code, text = run(base, "--orders")
    assert code == EXIT_OK
    lines = text.splitlines()
    assert lines[0].split() == ["id", "symbol", "side", "qty", "filled", "avg", "px", "status",
                                "reason", "age"]  # fmt: skip
    assert [row.split()[0] for row in lines[1:-1]] == NEWEST_FIRST
    assert "open (partially_filled)" in lines[2]
    i7 = next(row for row in lines if row.startswith("i7 "))
    assert "blocked" in i7 and "MaxNotional: notional over limit" in i7
    assert lines[-1].startswith("orders: open 3, filled 3, cancelled 2")


def test_orders_by_status_with_limit_and_symbol(base):
    _, text = run(base, "--orders", "cancelled,expired", "--limit", "2")
    assert [row.split()[0] for row in text.splitlines()[1:-1]] == ["c5", "c4"]
    _, text = run(base, "--orders", "open", "--symbol", "ETH-USD")
    assert [row.split()[0] for row in text.splitlines()[1:-1]] == ["c10"]


def test_orders_json_one_row_per_line(base):
    code, text = run(base, "--orders", "open", "--json", "--limit", "2")
    assert code == EXIT_OK
    rows = [json.loads(x) for x in text.splitlines()]
    assert [r["id"] for r in rows] == ["c11", "c10"]
    assert list(rows[0]) == list(OrderRow.__dataclass_fields__)
    assert rows[0]["stage"] == "partially_filled" and rows[0]["filled_quantity"] == 1.0


def test_no_orders_matched_says_so(base, capsys):
    code, text = run(base, "--orders", "open", "--symbol", "NOPE")
    assert code == EXIT_OK and capsys.readouterr().err == "no orders matched\n"
    assert text.splitlines()[0].startswith("id ") and text.splitlines()[1].startswith("orders:")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--orders", "working"], "invalid status 'working'"),
        (["--orders", "open", "--type", "fill"], "--type selects events"),
        (["--orders", "--follow"], "--orders does not combine with --follow"),
        (["--follow", "--summary"], "--follow does not combine with --summary"),
        (["--follow", "--type", "fills"], "unknown event kind 'fills'"),
        (["--from", "-15x"], "invalid time '-15x'"),
        (["--to", "soon"], "invalid time 'soon'"),
        (["--from", "now", "--to", "-1h"], "from 'now' is after to '-1h'"),
    ],
)
def test_bad_input_exits_3_naming_it(base, capsys, args, message):
    assert run(base, *args)[0] == EXIT_INPUT
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize("flag", ["--orders", "--follow"])
def test_orders_and_follow_need_a_session(base, capsys, flag):
    assert main(["--path", str(base), flag]) == EXIT_INPUT
    assert f"{flag} needs --session" in capsys.readouterr().err


def test_control_characters_never_reach_the_terminal(tmp_path):
    base = tmp_path / "logs"
    base.mkdir()
    evil = "\x1b]0;owned\x07\x1b[2J\u202e[red]x[/]\x9b"
    lines = [
        line(T0, "intent", "X", session="s", intent_id="i", side="buy", quantity=1.0),
        line(T0 + 1, "gate", "X", session="s", intent_id="i", gate_name="G", passed=False,
             reason=evil),
    ]  # fmt: skip
    (base / "s.jsonl").write_text("\n".join(lines) + "\n")
    sgr = re.compile(r"\x1b\[[0-9;]*m")  # rich's own colours
    for args, out in ((["--orders"], io.StringIO()), (["--orders"], Tty()),
                      (["--orders", "--json"], Tty())):  # fmt: skip
        assert main(["--path", str(base), "--session", "s", *args], stdout=out) == EXIT_OK
        text = sgr.sub("", out.getvalue())
        assert "blocked" in text
        for bad in ("\x1b", "\x07", "\u202e", "\x9b"):
            assert bad not in text, (args, bad)
    plain = io.StringIO()
    main(["--path", str(base), "--session", "s", "--orders"], stdout=plain)
    assert "G: ]0;owned[2J[red]x[/]" in plain.getvalue()  # shown as written, made inert


def test_relative_times():
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert resolve_time("now", now) == now
    assert resolve_time("-15m", now) == now - timedelta(minutes=15)
    assert resolve_time("-2h", now) == now - timedelta(hours=2)
    assert resolve_time("-1d", now) == now - timedelta(days=1)
    assert resolve_time("-1.5s", now) == now - timedelta(seconds=1.5)
    assert resolve_time("2026-11-30T10:00:00Z", now) == "2026-11-30T10:00:00Z"
    with pytest.raises(BadInput, match="invalid time '-2w'"):
        resolve_time("-2w", now)


def test_relative_window_selects_recent_events(tmp_path):
    base = tmp_path / "logs"
    base.mkdir()
    now = time.time()
    lines = [
        line(now - 3 * 3600, "intent", session="s", intent_id="old", side="buy"),
        line(now - 600, "intent", session="s", intent_id="recent", side="buy"),
    ]
    (base / "s.jsonl").write_text("\n".join(lines) + "\n")
    for args in (["--from", "-15m"], ["--from=-15m", "--to", "now"], ["--from", "-1h"]):
        out = io.StringIO()
        assert main(["--path", str(base), "--session", "s", *args, "--json"], stdout=out) == 0
        assert [json.loads(x)["payload"]["intent_id"] for x in out.getvalue().splitlines()] == [
            "recent"
        ]
    out = io.StringIO()
    main(["--path", str(base), "--session", "s", "--orders", "--from", "-4h", "--to", "-1h"],
         stdout=out)  # fmt: skip
    assert [row.split()[0] for row in out.getvalue().splitlines()[1:-1]] == ["old"]


class _Lines:
    """Lines of a child's stdout, read as they come (bounded waits)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.sel = selectors.DefaultSelector()
        self.sel.register(proc.stdout, selectors.EVENT_READ)
        self.pending = b""

    def next(self, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.pending:
            left = deadline - time.monotonic()
            assert left > 0, f"no line from the follower; stderr: {self.proc.stderr.read1()!r}"
            if self.sel.select(left):
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                assert chunk, f"the follower ended: {self.proc.wait()} {self.proc.stderr.read()!r}"
                self.pending += chunk
        first, _, self.pending = self.pending.partition(b"\n")
        return first.decode()


@contextmanager
def following(*args: str):
    """The viewer following a session in a child process; killed and reaped after."""
    with subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        try:
            yield proc, _Lines(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_follow_prints_appended_events_until_ctrl_c(base):
    path = base / f"{SESSION}.jsonl"
    with following(
        str(ROOT / "scripts" / "view_execution_telemetry.py"), "--path", str(base),
        "--session", SESSION, "--follow", "--type", "fill,cancel", "--limit", "1",
    ) as (proc, lines):  # fmt: skip
        first = lines.next()  # the newest matching event: the follower has its start
        assert "[fill]" in first and "99.90" in first
        with path.open("a") as fh:  # a kind the filter drops, then a cancel, then a torn fill
            fh.write(line(T0 + 50, "ack", client_id="c10") + "\n")
            fh.write(line(T0 + 51, "cancel", client_id="c10", reason="follow-me") + "\n")
            fh.write(line(T0 + 52, "fill", client_id="c9", filled_quantity=1.0, fill_price=95.0))
        got = lines.next()
        assert "[cancel]" in got and "follow-me" in got
        with path.open("a") as fh:
            fh.write("\n")  # the fill's line is complete now
        got = lines.next()
        assert "[fill]" in got and "95.00" in got
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == EXIT_OK
        assert b"Traceback" not in proc.stderr.read()


def test_follow_json_lines_from_a_real_process(base):
    path = base / f"{SESSION}.jsonl"
    with following(
        "-m", "src.cli.view_telemetry", "--path", str(base), "--session", SESSION,
        "--follow", "--json", "--symbol", "ETH-USD", "--limit", "1",
    ) as (proc, lines):  # fmt: skip
        assert json.loads(lines.next())["payload"]["client_id"] == "c10"  # the newest ETH event
        # Another process appends, as a trading process would.
        text = (
            line(T0 + 60, "intent", "BTC-USD", intent_id="skip") + "\n"
            + line(T0 + 61, "intent", "ETH-USD", intent_id="keep\x1b[2J") + "\n"
        )  # fmt: skip
        append = "import sys\nwith open(sys.argv[1], 'a') as fh: fh.write(sys.stdin.read())"
        subprocess.run([sys.executable, "-c", append, str(path)], input=text, text=True,
                       check=True)  # fmt: skip
        raw = lines.next()
        assert "\x1b" not in raw  # escaped in the JSON text, not raw
        assert json.loads(raw)["payload"]["intent_id"] == "keep\x1b[2J"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == EXIT_OK
