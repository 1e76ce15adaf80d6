"""The bridge logs the invalid lines it skipped: rate-limited, naming file and line, where
the runbook's `grep ERROR logs/app.log | grep execution_bridge` finds them."""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import src.live.skipped_lines as skipped_lines
from src.live.skipped_lines import SkippedLineLog

ROOT = Path(__file__).resolve().parents[2]


def event(i: int) -> str:
    return json.dumps(
        {"ts": f"2025-01-01T12:00:{i % 60:02d}Z", "session_id": "s1", "symbol": "X",
         "mode": "paper", "kind": "intent", "payload": {"intent_id": f"i{i}"}}
    )  # fmt: skip


def documented(doc: str, lang: str, needle: str) -> str:
    """The code block of ``doc`` in ``lang`` that contains ``needle``."""
    text = (ROOT / doc).read_text()
    blocks = [b for b in re.findall(rf"```{lang}[^\n]*\n(.*?)```", text, re.S) if needle in b]
    assert len(blocks) == 1, f"{doc}: expected one {lang} block with {needle!r}"
    return blocks[0]


def test_runbook_grep_finds_one_record_with_the_documented_logging(tmp_path):
    """An app configured as the README says, reading a session with one bad line through the
    bridge again and again, logs it once; the runbook's command finds that line."""
    logs = tmp_path / "logs" / "execution"
    logs.mkdir(parents=True)
    (logs / "s1.jsonl").write_text(f"{event(0)}\nnot json at all\n\n{event(1)}\n")
    app = documented("README.md", "python", "logs/app.log") + (
        "from src.live.execution_bridge import get_execution_summary, get_execution_timeline\n"
        "for _ in range(5):\n"
        "    get_execution_timeline('s1', base_path='logs/execution')\n"
        "    get_execution_summary('s1', base_path='logs/execution')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", app], cwd=tmp_path, env=env, check=True, timeout=60)
    grep = documented("docs/runbook.md", "bash", "grep ERROR logs/app.log")
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", grep],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = done.stdout.splitlines()
    assert len(found) == 1, found
    assert "logs/execution/s1.jsonl: line 2 (byte " in found[0]
    assert "'not json at all'" in found[0] and "skipped 1 invalid line(s)" in found[0]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def records(caplog):
    caplog.set_level(logging.ERROR, logger="src.live.execution_bridge")

    def messages() -> list[str]:
        got = [r.getMessage() for r in caplog.records if r.name == "src.live.execution_bridge"]
        caplog.clear()
        return got

    return messages


def test_rate_limited_and_each_line_reported_once(tmp_path, records):
    """Repeated reads log nothing new; a new bad line within the interval waits for the next
    allowed record, which names only it."""
    path = tmp_path / "s1.jsonl"
    path.write_text(f"{event(0)}\n{{broken\n{event(1)}\n")
    clock = Clock()
    skipped = SkippedLineLog(clock=clock, interval_s=60)
    for _ in range(3):
        skipped.after_summary("s1", [path], 1)
        skipped.after_timeline([path])
    [first] = records()
    assert f"{path}: line 2 (byte {len(event(0)) + 1}): '{{broken'" in first
    with path.open("a") as fh:
        fh.write("[1, 2]\n")
    skipped.after_summary("s1", [path], 2)
    assert records() == []  # within the minute
    clock.now += 61
    skipped.after_timeline([path])
    [second] = records()
    assert f"{path}: line 4 " in second and "line 2" not in second


def test_a_clean_session_is_never_read_again(tmp_path, records, monkeypatch):
    """A summary without invalid lines costs the reporter nothing (no file is opened)."""
    opened = []
    monkeypatch.setattr(skipped_lines, "_scan", lambda *a, **k: opened.append(a) or ([], 0, 0))
    SkippedLineLog().after_summary("s1", [tmp_path / "s1.jsonl"], 0)
    assert opened == [] and records() == []


def test_a_first_look_reads_only_the_end_and_numbers_what_it_finds(
    tmp_path, records, monkeypatch
):
    """A process's first look at a session (here a summary: a torn tail and an old bad line
    counted) reads only the newest file's last window: the old line, long reported by
    whichever process read it first, is not read again; a new one is named with its true
    line number (newlines counted, nothing decoded) and later ones follow on from it."""
    monkeypatch.setattr(skipped_lines, "TAIL_WINDOW", 4096)
    older = tmp_path / "2025-01-01" / "s1.jsonl"
    older.parent.mkdir()
    older.write_text(f"{event(0)}\nold garbage in an old file\n")
    path = tmp_path / "s1.jsonl"
    body = [event(0), "early garbage"] + [event(i) for i in range(200)]
    path.write_text("\n".join(body) + '\n{"torn')
    clock = Clock()
    skipped = SkippedLineLog(clock=clock)
    skipped.after_summary("s1", [older, path], 3)
    assert records() == []  # the bad lines are far before the window; the torn one waits
    skipped.after_summary("s1", [older, path], 3)  # same count: nothing is looked at
    offset = path.stat().st_size
    with path.open("a") as fh:
        fh.write("\nlate garbage\n")
    clock.now += 61
    skipped.after_summary("s1", [older, path], 5)
    [late] = records()
    assert "skipped 2 invalid line(s)" in late
    assert f"{path}: line 203 (byte {offset - 6}): '{{\"torn'" in late
    assert f"{path}: line 204 (byte {offset + 1}): 'late garbage'" in late
    assert "early garbage" not in late and "old garbage" not in late
    with path.open("a") as fh:
        fh.write("more garbage\n")
    clock.now += 61
    skipped.after_timeline([older, path])
    [more] = records()
    assert f"{path}: line 205 (byte " in more and "late garbage" not in more


def test_the_first_look_shares_its_window_newest_file_first(tmp_path, records, monkeypatch):
    """What the newest file leaves of the window goes to the older files (a .gz from its
    start), so a small session is read whole and every bad line named."""
    monkeypatch.setattr(skipped_lines, "TAIL_WINDOW", 4096)
    old = tmp_path / "2025-01-01" / "s1.jsonl"
    old.parent.mkdir()
    old.write_text("\n".join([event(0), "out of the window"] + [event(i) for i in range(60)]))
    mid = tmp_path / "2025-01-02" / "s1.jsonl.gz"
    mid.parent.mkdir()
    with gzip.open(mid, "wt") as fh:
        fh.write(f"{event(0)}\nin the window\n")
    new = tmp_path / "2025-01-03" / "s1.jsonl"
    new.parent.mkdir()
    new.write_text("\n".join([event(i) for i in range(20)] + ["newest garbage", ""]))
    SkippedLineLog().after_summary("s1", [old, mid, new], 3)
    [msg] = records()
    assert f"{mid}: line 2 (byte " in msg and f"{new}: line 21 (byte " in msg
    assert "out of the window" not in msg and "skipped 2 invalid line(s)" in msg


def test_gzip_and_daily_files_are_named_with_their_lines(tmp_path, records):
    """Every file of a session is checked by a summary, compressed ones included."""
    old = tmp_path / "2025-01-01" / "s1.jsonl.gz"
    old.parent.mkdir()
    with gzip.open(old, "wt") as fh:
        fh.write(f"{event(0)}\n{event(1)}\n\x00\x01\n")
    new = tmp_path / "2025-01-02" / "s1.jsonl"
    new.parent.mkdir()
    new.write_text(f'{event(2)}\n{{"kind": "fill"}}\n')
    SkippedLineLog().after_summary("s1", [old, new], 2)
    [msg] = records()
    assert f"{old}: line 3 (byte " in msg and f"{new}: line 2 (byte " in msg
    assert "skipped 2 invalid line(s)" in msg


def test_an_unfinished_last_line_waits_until_it_is_complete(tmp_path, records):
    """A line still being written is not reported; once it ends (still invalid), it is."""
    path = tmp_path / "s1.jsonl"
    path.write_text(f'{event(0)}\n{{"ts": "2025-01-01T12:00:0')
    clock = Clock()
    skipped = SkippedLineLog(clock=clock)
    skipped.after_summary("s1", [path], 1)
    assert records() == []
    with path.open("a") as fh:
        fh.write("garbage\n")
    skipped.after_summary("s1", [path], 2)
    [msg] = records()
    assert f"{path}: line 2 (byte {len(event(0)) + 1})" in msg


def test_reporting_never_raises(tmp_path, records):
    """A directory, a missing file or a broken gzip where a session file was: no exception."""
    bad_gz = tmp_path / "s1.jsonl.gz"
    bad_gz.write_bytes(b"\x1f\x8b\x08\x00garbage")
    skipped = SkippedLineLog()
    skipped.after_summary("s1", [tmp_path, tmp_path / "missing.jsonl", bad_gz], 3)
    skipped.after_timeline([tmp_path / "missing.jsonl"])
    skipped.flush()
    assert records() == []


def test_a_window_inside_an_unfinished_line_reports_no_fragment(tmp_path, records, monkeypatch):
    """A first look starting inside a line still being written never reports the part of
    it in the window as a line; the next bad line is named whole, with its true number."""
    monkeypatch.setattr(skipped_lines, "TAIL_WINDOW", 10)
    path = tmp_path / "s1.jsonl"
    unfinished = '{"ts": "2025-01-01T12:00:00Z", "kind": "intent", "payl'
    path.write_text(f"{event(0)}\ngarbage\n{unfinished}")
    clock = Clock()
    skipped = SkippedLineLog(clock=clock)
    skipped.after_timeline([path])
    skipped.after_summary("s1", [path], 2)
    assert records() == []  # line 2 lies before the window
    with path.open("a") as fh:
        fh.write("oad\nbad\n")
    skipped.after_summary("s1", [path], 4)
    [msg] = records()
    size = path.stat().st_size
    assert f"{path}: line 4 (byte {size - 4}): 'bad'" in msg and "skipped 1 invalid" in msg
