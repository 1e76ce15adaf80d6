"""The health checks of a telemetry root, each returning findings (ok / warning / critical).

* **disk** - use of the root's filesystem (``shutil.disk_usage``) against thresholds, and the
  root's own size against the retention size cap;
* **parse errors** - invalid lines among the newest lines of the newest files, read with the
  query layer's readers and rules (an unfinished last line is an in-flight write, not an
  error, and is only counted as torn);
* **retention** - time since the last successful ``--apply`` (its state file); never run is
  judged by the age of the oldest log;
* **writers** - logger write errors and writers that died without closing, from the
  heartbeats loggers publish under ``<root>/.writers/``.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from src.common.units import human_bytes, plural
from src.execution.telemetry.heartbeat import read_heartbeats
from src.ops.retention.state import read_state
from src.query.checks import CRITICAL, OK, WARNING, Finding
from src.query.files import list_sessions
from src.query.lines import ReadError, iter_lines, iter_lines_reversed
from src.query.records import valid_start
from src.query.state_retention import list_states

__all__ = [
    "HealthThresholds",
    "check_disk",
    "check_parse_errors",
    "check_retention",
    "check_writers",
    "run_checks",
]

DAY_S = 86_400.0
RECENT_WRITER_S = DAY_S  # writers that stopped or failed longer ago are history


@dataclass(frozen=True)
class HealthThresholds:
    disk_warn_percent: float = 80.0
    disk_crit_percent: float = 90.0
    parse_error_warn: float = 0.01
    parse_error_crit: float = 0.05
    sample_files: int = 20
    sample_lines: int = 5000
    retention_stale_warn_hours: float = 192.0
    retention_stale_crit_hours: float = 360.0
    write_error_window_minutes: float = 15.0
    size_cap_mb: int = 2048  # the retention cap; 0 = none

    def __post_init__(self) -> None:
        if self.disk_crit_percent < self.disk_warn_percent:
            raise ValueError("--disk-crit-percent must be >= --disk-warn-percent")
        if self.parse_error_crit < self.parse_error_warn:
            raise ValueError("--parse-error-crit must be >= --parse-error-warn")
        if self.retention_stale_crit_hours < self.retention_stale_warn_hours:
            raise ValueError("--stale-crit-hours must be >= --stale-warn-hours")
        if self.sample_files < 1 or self.sample_lines < 1:
            raise ValueError("--sample-files and --sample-lines must be >= 1")


def _level(value: float, warn: float, crit: float) -> str:
    return CRITICAL if value >= crit else WARNING if value >= warn else OK


def _ago(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * DAY_S:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / DAY_S:.1f} days"


def check_disk(
    root: Path,
    t: HealthThresholds,
    *,
    usage: Callable[[Path], Any] | None = None,
) -> list[Finding]:
    u = (usage or shutil.disk_usage)(root)
    pct = 100.0 * u.used / (u.used + u.free) if (u.used + u.free) else 0.0
    findings = [
        Finding(
            "disk",
            _level(pct, t.disk_warn_percent, t.disk_crit_percent),
            f"filesystem {pct:.1f}% used, {human_bytes(u.free)} free "
            f"(warning at {t.disk_warn_percent:g}%, critical at {t.disk_crit_percent:g}%)",
        )
    ]
    sessions = list_sessions(root)
    states = list_states(root)  # saved summary states (and saves' temp files) count too
    size = sum(s.size_bytes for s in sessions) + sum(s.size for s in states)
    what = plural(len(sessions), "session")
    if saved := sum(1 for s in states if not s.temp):
        what += f" and {plural(saved, 'saved summary state')}"
    cap = t.size_cap_mb * 2**20
    if cap and size > cap:
        findings.append(
            Finding(
                "root_size",
                WARNING,
                f"{human_bytes(size)} in {what}, above the "
                f"retention size cap {t.size_cap_mb} MB: run telemetry_retention --apply",
            )
        )
    else:
        limit = f" (size cap {t.size_cap_mb} MB)" if cap else ""
        findings.append(Finding("root_size", OK, f"{human_bytes(size)} in {what}{limit}"))
    return findings


def check_parse_errors(
    root: Path, t: HealthThresholds, progress: Callable[[int, int], None] | None = None
) -> Finding:
    files = _newest_files(root, t.sample_files)
    total = invalid = torn = unreadable = 0
    for index, path in enumerate(files):
        # Plain files are sampled from the end (newest lines); gzip files cannot be read
        # backwards and are sampled from their start.
        lines = iter_lines(path) if path.name.endswith(".gz") else iter_lines_reversed(path)
        try:
            with closing(lines):
                for n, (line, complete) in enumerate(lines):
                    if n >= t.sample_lines:
                        break
                    if not complete:
                        torn += 1
                        continue
                    total += 1
                    found = valid_start(line)
                    if found is None:
                        invalid += 1
                    elif found[1]:  # a valid line after a killed writer's fragment
                        total += 1
                        invalid += 1
        except (ReadError, OSError):
            unreadable += 1
        if progress is not None:
            progress(index + 1, len(files))
    if not files:
        return Finding("parse_errors", OK, "no log files to sample")
    rate = invalid / total if total else 0.0
    # The runbook's red flags, as the viewer's --check applies them: above 1% / above 5%.
    severity = (
        CRITICAL if rate > t.parse_error_crit else WARNING if rate > t.parse_error_warn else OK
    )
    message = (
        f"{invalid} of {total} sampled lines invalid ({rate * 100:.2f}%) in the "
        f"{len(files)} newest files (warning above {t.parse_error_warn * 100:g}%, "
        f"critical above {t.parse_error_crit * 100:g}%)"
    )
    if torn:
        message += f"; {torn} unfinished last lines"
    if unreadable:
        message += f"; {unreadable} files unreadable"
        severity = CRITICAL if severity == CRITICAL else WARNING
    return Finding("parse_errors", severity, message)


def _newest_files(root: Path, count: int) -> list[Path]:
    dated = []
    for session in list_sessions(root):
        for path in session.files:
            try:
                dated.append((path.stat(follow_symlinks=False).st_mtime, str(path), path))
            except OSError:
                continue  # removed by retention since listing
    dated.sort(reverse=True)
    return [path for _mtime, _name, path in dated[:count]]


def check_retention(root: Path, t: HealthThresholds, *, now: float) -> Finding:
    state = read_state(root)
    warn, crit = t.retention_stale_warn_hours * 3600, t.retention_stale_crit_hours * 3600
    success = state.get("last_success_at") if state else None
    if isinstance(success, (int, float)):
        age = now - success
        severity = _level(age, warn, crit)
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(success))
        message = f"last successful --apply {_ago(age)} ago ({when})"
        if state and state.get("last_run_ok") is False:
            severity = CRITICAL if severity == CRITICAL else WARNING
            message += "; the latest run had failed actions"
        return Finding("retention", severity, message)
    if state and state.get("last_run_ok") is False:
        return Finding("retention", WARNING, "retention has run but never without failures")
    mtimes = [s.mtime for s in list_sessions(root)]
    if not mtimes:
        return Finding("retention", OK, "never run here; no logs yet")
    age = now - min(mtimes)
    severity = _level(age, warn, crit)
    return Finding(
        "retention", severity, f"never run here; the oldest log was written {_ago(age)} ago"
    )


def check_writers(root: Path, t: HealthThresholds, *, now: float) -> Finding:
    beats, unreadable = read_heartbeats(root)
    window = t.write_error_window_minutes * 60
    running, crashed, failing_now, failed_lately = [], [], [], []
    for hb in beats:
        fresh = now - hb.updated_at <= max(3 * hb.interval_s, 60.0)
        if not hb.closed and fresh:
            running.append(hb)
        elif not hb.closed and now - hb.updated_at <= RECENT_WRITER_S:
            crashed.append(hb)
        if hb.errors and hb.last_error_at is not None:
            if now - hb.last_error_at <= window:
                failing_now.append(hb)
            elif now - hb.last_error_at <= RECENT_WRITER_S:
                failed_lately.append(hb)
    closed = sum(1 for hb in beats if hb.closed)
    parts = [f"{plural(len(running), 'running writer')}, {closed} closed"]
    for hb in failing_now + failed_lately:
        parts.append(
            f"writer {hb.name}: {hb.errors} write errors, last {_ago(now - hb.last_error_at)} "
            f"ago ({hb.last_error})"
        )
    for hb in crashed:
        parts.append(f"writer {hb.name} stopped {_ago(now - hb.updated_at)} ago without closing")
    if unreadable:
        parts.append(f"{unreadable} unreadable heartbeat files")
    if not beats:
        parts = ["no writer heartbeats (no logger with heartbeat_interval_s > 0 has run here)"]
    severity = CRITICAL if failing_now else WARNING if (failed_lately or crashed) else OK
    return Finding("writers", severity, "; ".join(parts))


def run_checks(
    root: Path,
    t: HealthThresholds,
    *,
    now: float | None = None,
    usage: Callable[[Path], Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Finding]:
    at = time.time() if now is None else now
    return [
        *check_disk(root, t, usage=usage),
        check_parse_errors(root, t, progress),
        check_retention(root, t, now=at),
        check_writers(root, t, now=at),
    ]
