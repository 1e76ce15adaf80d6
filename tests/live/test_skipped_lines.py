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


def test_timeline_reads_only_the_end_and_a_summary_fills_in_the_rest(
    tmp_path, records, monkeypatch
):
    """The first timeline look covers the newest file's tail window only (byte offset for
    what it finds there); a summary then reports the earlier line with its line number."""
    monkeypatch.setattr(skipped_lines, "TAIL_WINDOW", 4096)
    path = tmp_path / "s1.jsonl"
    body = [event(0), "early garbage"] + [event(i) for i in range(200)]
    path.write_text("\n".join(body) + "\n")
    clock = Clock()
    skipped = SkippedLineLog(clock=clock)
    skipped.after_timeline([path])
    assert records() == []  # the bad line is far before the window
    offset = path.stat().st_size
    with path.open("a") as fh:
        fh.write("late garbage\n")
    skipped.after_timeline([path])
    [late] = records()
    assert f"{path}: byte {offset}: 'late garbage'" in late
    clock.now += 61
    skipped.after_summary("s1", [path], 2)
    [early] = records()
    assert f"{path}: line 2 (byte {len(event(0)) + 1}): 'early garbage'" in early
    assert "late garbage" not in early


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
    """A timeline window starting inside a line still being written reports nothing; the
    summary after it names whole lines only, with their true numbers and offsets."""
    monkeypatch.setattr(skipped_lines, "TAIL_WINDOW", 10)
    path = tmp_path / "s1.jsonl"
    unfinished = '{"ts": "2025-01-01T12:00:00Z", "kind": "intent", "payl'
    path.write_text(f"{event(0)}\ngarbage\n{unfinished}")
    clock = Clock()
    skipped = SkippedLineLog(clock=clock)
    skipped.after_timeline([path])
    assert records() == []
    skipped.after_summary("s1", [path], 2)
    [msg] = records()
    assert f"{path}: line 2 (byte {len(event(0)) + 1}): 'garbage'" in msg and "line 3" not in msg
    with path.open("a") as fh:
        fh.write("\n")
    clock.now += 61
    skipped.after_summary("s1", [path], 3)
    [msg] = records()
    assert f'{path}: line 3 (byte {len(event(0)) + 9}): \'{{"ts"' in msg
