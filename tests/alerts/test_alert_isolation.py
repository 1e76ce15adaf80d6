"""One session never stops the alert engine from judging the others: a poisoned log is
read like any other (its bad lines are invalid), and a session whose evaluation fails for
any reason is named and counted while every other session is still evaluated."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from src.alerts.service import build_engine
from src.alerts.tracker import FileTracker
from tests.alerts.test_alert_engine import config, errors_now
from tests.query.poisoned_lines import poisoned_lines


@pytest.fixture
def cfg(tmp_path, logs):
    def write() -> str:
        path = tmp_path / "alerts.toml"
        path.write_text(
            f"[execution.telemetry]\nbase_path = '{logs}'\n[execution.alerts]\nchannels = []\n"
        )
        return str(path)

    return write


def test_check_with_a_poisoned_session_still_fires_the_other_sessions_alert(
    cfg, session_log, repo_root
):
    """telemetry-alerts check (a subprocess, as cron runs it): the poisoned session is
    evaluated with its bad lines skipped, and the error alert of the other session fires."""
    poisoned = session_log("poisoned")
    now = time.time()
    for i in range(5):
        poisoned.trade(now - 30 + i)
    for line in poisoned_lines("poisoned"):
        poisoned.raw(line)
    poisoned.trade(now - 2)
    errors_now(session_log("s2"))
    command = [sys.executable, str(repo_root / "scripts" / "telemetry_alerts.py"), "check"]
    done = subprocess.run(
        [*command, "--config", cfg(), "--json"], capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in done.stderr, done.stderr
    doc = json.loads(done.stdout)
    assert doc["sessions"] == ["poisoned", "s2"] and doc["failed_sessions"] == {}
    # The bad lines count as invalid (a parse-error alert of their own session, critical:
    # exit 2), and the other session's error alert fires.
    assert done.returncode == 2, done.stderr
    keys = {a["key"]: a["severity"] for a in doc["alerts"]}
    assert keys == {"errors:s2": "warning", "parse_errors:poisoned": "critical"}


def test_a_session_that_fails_is_reported_and_the_others_are_evaluated(
    session_log, logs, monkeypatch
):
    """Whatever makes one session's evaluation fail: it is named in the result, its open
    alerts stay as they were, and another session's error alert still fires."""
    errors_now(session_log("bad"))
    engine = build_engine(config(logs), logs, channels={})
    try:
        first = engine.evaluate()
        assert [a["key"] for a in first.alerts] == ["errors:bad"] and first.failed == {}
        real_view = FileTracker.view

        def view(self, *args, **kwargs):
            if self.session_id == "bad":
                raise OSError("disk on fire")
            return real_view(self, *args, **kwargs)

        monkeypatch.setattr(FileTracker, "view", view)
        errors_now(session_log("good"))
        second = engine.evaluate()
        assert second.failed == {"bad": "OSError: disk on fire"}
        assert second.sessions == ["good"]
        alerts = {a["key"]: a["status"] for a in second.alerts}
        assert alerts == {"errors:bad": "firing", "errors:good": "firing"}
        assert [n["key"] for n in second.notifications] == ["errors:good"]
    finally:
        engine.close(timeout=1.0)
