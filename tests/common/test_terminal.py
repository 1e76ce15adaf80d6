"""Log data reaches the operator's terminal as text: no control sequences, no rich markup.

Every command runs as a real subprocess over logs whose symbol, gate name, reason and
error message carry an OSC title change, a clear-screen CSI, BEL, a one-byte C1 CSI,
a bidi override, a fake line break and rich markup (``[/]``, ``[link=...]``).
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from src.common.terminal import CleanWriter, clean, markup

BIN = Path(sys.executable).parent
EVIL = "X[/]\x1b]0;pwned\x07\x1b[2J\x9b31m[link=http://evil]click[/link]\u202e\r\nFAKE"
# What must never reach the terminal from the data (rich's own SGR styling aside).
FORBIDDEN = ("\x1b]", "\x07", "\x1b[2J", "\x9b", "\u202e", "\nFAKE", "\r\nFAKE")


def test_clean_removes_every_control_character():
    """C0, DEL, C1 and bidi controls go; line breaks and tabs become spaces; text stays."""
    every = "".join(map(chr, range(0x20))) + "\x7f" + "".join(map(chr, range(0x80, 0xA0)))
    assert clean(f"a{every}b") == "a" + " " * 6 + "b"  # \t \n \v \f \r and NEL
    assert clean("é ü 日本 [ok]") == "é ü 日本 [ok]"
    assert clean("\u202eabc\u2066") == "abc"
    assert clean("\u200fa\u200eb\u061cc") == "abc"  # bidi marks reorder neutrals too
    assert clean(EVIL) == "X[/]]0;pwned[2J31m[link=http://evil]click[/link]  FAKE"


def test_markup_shows_brackets_literally():
    """markup() text printed by rich is the cleaned text, never markup (no MarkupError)."""
    import io

    from rich.console import Console

    out = io.StringIO()
    Console(file=out, width=200).print(markup(EVIL))
    assert out.getvalue().rstrip("\n") == clean(EVIL)


def test_clean_writer_keeps_the_writers_own_line_breaks():
    """CleanWriter cleans each line of what is written and keeps the line structure."""
    import io

    buf = io.StringIO()
    CleanWriter(buf).write("a\x1b[2J\nb\x07\n")
    assert buf.getvalue() == "a[2J\nb\n"


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> Path:
    """A project dir whose logs/execution has one recent session full of hostile text."""
    work = tmp_path_factory.mktemp("evil")
    root = work / "logs" / "execution"
    root.mkdir(parents=True)
    now = datetime.now(UTC)
    lines = []
    for i in range(3):
        base = {"session_id": "s1", "symbol": EVIL, "mode": "paper"}
        t = [(now - timedelta(seconds=60 - 3 * i - k)).isoformat() for k in range(3)]
        ids = {"intent_id": f"i{i}"}
        lines += [
            {**base, "ts": t[0], "kind": "intent", "payload": {**ids, "side": "buy",
             "quantity": 1, "current_price": 100}},
            {**base, "ts": t[1], "kind": "gate", "payload": {**ids, "gate_name": EVIL,
             "passed": False, "reason": EVIL}},
            {**base, "ts": t[2], "kind": "error", "payload": {"message": EVIL, "error": EVIL}},
        ]  # fmt: skip
    (root / "s1.jsonl").write_text(
        "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8"
    )
    (root / "x\x1b]0;t\x07.jsonl").write_text("not ours\n")  # a hostile file name
    return work


def run_piped(logs: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / argv[0]), *argv[1:]],
        cwd=logs,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )


def run_on_terminal(logs: Path, *argv: str, term: str) -> tuple[int, str]:
    """Run with stdout on a real pseudo-terminal (so the command chooses rich output)."""
    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "200", "LINES": "50", "TERM": term}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [str(BIN / argv[0]), *argv[1:]], cwd=logs, stdout=slave, stderr=subprocess.PIPE, env=env
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    proc.stderr.close() if proc.stderr else None
    code = proc.wait(timeout=60)
    assert "Traceback" not in stderr, stderr
    return code, b"".join(chunks).decode("utf-8", "replace")


def assert_clean(text: str) -> None:
    for bad in FORBIDDEN:
        assert bad not in text, f"{bad!r} reached the terminal"


VIEW = ["view-execution-telemetry", "--session", "s1"]
PLAIN_COMMANDS = [
    [*VIEW, "--summary", "--timeline", "9"],
    [*VIEW, "--summary", "--plain"],
    [*VIEW, "--check"],
    [*VIEW, "--json"],
    ["telemetry-alerts", "check", "--dry-run"],
    ["telemetry-health"],
    ["telemetry-retention"],
    ["telemetry-sql", "--path", "logs/execution", "SELECT symbol, payload FROM events"],
    ["telemetry-export", "--session", "s1", "-o", "-", "--format", "jsonl"],
]


@pytest.mark.parametrize("argv", PLAIN_COMMANDS, ids=" ".join)
def test_piped_output_carries_no_control_characters(logs, argv):
    """Plain output and stderr of every command: the hostile text shows, inert."""
    done = run_piped(logs, *argv)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in (0, 1, 2), done.stderr
    if argv[0] != "telemetry-export":  # an export is data, JSON-escaped, not terminal text
        assert_clean(done.stdout)
    assert_clean(done.stderr)


def test_json_keeps_the_value_and_escapes_what_a_terminal_would_obey(logs):
    """--json: C1, DEL and bidi controls are written as \\u escapes; the value is intact."""
    done = run_piped(logs, *VIEW, "--json")
    assert "\\u009b" in done.stdout and "\\u202e" in done.stdout
    assert {json.loads(line)["symbol"] for line in done.stdout.splitlines()} == {EVIL}


def test_piped_view_shows_the_text_itself(logs):
    """What was stripped is only the control characters: the rest of the symbol shows."""
    done = run_piped(logs, *VIEW, "--timeline", "1")
    assert clean(EVIL) in done.stdout


RICH_COMMANDS = [
    [*VIEW, "--summary"],
    [*VIEW, "--timeline", "9"],
    ["telemetry-sql", "--path", "logs/execution", "SELECT symbol, kind FROM events"],
]


@pytest.mark.parametrize("argv", RICH_COMMANDS, ids=" ".join)
def test_rich_output_on_a_terminal_neither_crashes_nor_obeys_the_data(logs, argv):
    """On a terminal (rich tables) no MarkupError, no [link] markup, no data escapes at all
    when the terminal is dumb (rich then adds no styling of its own either)."""
    code, text = run_on_terminal(logs, *argv, term="dumb")
    assert code == 0
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
    assert "[link=http://evil]" in text  # printed as text, not turned into a hyperlink
    code, text = run_on_terminal(logs, *argv, term="xterm-256color")
    assert code == 0
    assert "│" in text or "┃" in text  # really the rich table
    assert_clean(text)
    assert "\x1b]8;" not in text  # no OSC 8 hyperlink from [link=...]


def test_alert_notifications_list_and_deliveries_stay_clean(logs):
    """telemetry-alerts check (console channel on stderr), then list and deliveries."""
    check = run_piped(logs, "telemetry-alerts", "check")
    assert check.returncode in (1, 2), check.stderr
    assert "ALERT" in check.stderr  # the console channel printed the notifications
    for done in (check, run_piped(logs, "telemetry-alerts", "list", "--all"),
                 run_piped(logs, "telemetry-alerts", "deliveries")):  # fmt: skip
        assert "Traceback" not in done.stderr
        assert_clean(done.stdout)
        assert_clean(done.stderr)


def test_json_escapes_every_character_clean_would_remove():
    """--json and clean() agree: whatever clean() drops or replaces beyond ASCII controls
    (which the JSON encoder escapes itself) is a \\u escape in a JSON line, never raw."""
    import orjson

    from src.common.terminal import json_escape_controls

    for code in range(0x7F, 0x2070):
        char = chr(code)
        if clean(char) == char:
            continue
        line = json_escape_controls(orjson.dumps({"s": f"a{char}b"}))
        assert char.encode() not in line, f"U+{code:04X} stays raw in --json"
        assert orjson.loads(line) == {"s": f"a{char}b"}


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "replay", "sql-csv", "sql-json"])
def test_an_export_to_a_terminal_is_inert(logs, fmt):
    """telemetry-export -o - and telemetry-replay --stdout with stdout on a terminal: the rows
    show, their control characters do not act (piped, the output stays byte-exact data)."""
    argv = ["telemetry-export", "--session", "s1", "-o", "-", "--format", fmt]
    if fmt == "replay":
        argv = ["telemetry-replay", "--session", "s1", "--stdout"]
    if fmt.startswith("sql-"):
        query = "SELECT symbol, payload FROM events"
        argv = ["telemetry-sql", "--path", "logs/execution", "--format", fmt[4:], query]
    code, text = run_on_terminal(logs, *argv, term="xterm-256color")
    assert code == 0
    # A CSV cell may hold a line break: it stays (quoted) as CSV has it; nothing else acts.
    for bad in FORBIDDEN if "csv" not in fmt else ("\x1b", "\x07", "\x9b", "\u202e"):
        assert bad not in text, f"{bad!r} reached the terminal"
    assert "pwned" in text and "[link=http://evil]click[/link]" in text
    piped = run_piped(logs, *argv)
    assert ("\x1b]0;pwned\x07" if "csv" in fmt else "\x9b") in piped.stdout
