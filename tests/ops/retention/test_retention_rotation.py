"""rotation = "daily" + compression = true: new file at midnight UTC, closed days compressed."""

from __future__ import annotations

import io
import os
import time
from datetime import UTC, datetime, timedelta

from src.execution.config import load_config
from src.execution.telemetry import JsonlExecutionLogger, build_emitter
from src.ops.retention.cli import main


def test_config_rotation_and_compression_end_to_end(root, make_event, seqs_of, tmp_path):
    """The configured logger splits at 00:00 UTC; retention compresses closed days only."""
    config = tmp_path / "execution.toml"
    config.write_text(
        f"""
[execution.telemetry]
base_path = "{root}"
rotation = "daily"
compression = true
fsync = "none"
heartbeat_interval_s = 0
"""
    )
    emitter = build_emitter(load_config(config, env={}))
    assert isinstance(emitter, JsonlExecutionLogger) and emitter.rotation == "daily"
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
        days=9
    )
    clock = [(midnight - timedelta(seconds=1)).timestamp()]
    emitter._clock = lambda: clock[0]  # the logger reads the wall clock through this hook
    with emitter:
        emitter.emit(make_event(session_id="s", seq=1))
        clock[0] = (midnight + timedelta(seconds=1)).timestamp()
        emitter.emit(make_event(session_id="s", seq=2))
        clock[0] = time.time()
        emitter.emit(make_event(session_id="s", seq=3))
    day1 = (midnight - timedelta(days=1)).strftime("%Y-%m-%d")
    day2 = midnight.strftime("%Y-%m-%d")
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    for day, ts in ((day1, midnight - timedelta(seconds=1)), (day2, midnight + timedelta(days=1))):
        os.utime(root / day / "s.jsonl", (ts.timestamp(), ts.timestamp()))
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*.jsonl")) == [
        f"{day1}/s.jsonl",
        f"{day2}/s.jsonl",
        f"{today}/s.jsonl",
    ]
    out = io.StringIO()
    assert main(["--config", str(config), "--apply"], stdout=out) == 0
    assert sorted(str(p.relative_to(root)) for p in root.rglob("s.jsonl*")) == [
        f"{day1}/s.jsonl.gz",
        f"{day2}/s.jsonl.gz",
        f"{today}/s.jsonl",
    ]
    assert seqs_of(root, "s") == [1, 2, 3]
