"""telemetry-alerts: check exit codes, ack/snooze/list, deliveries, test, run, bad input."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from src.alerts.cli import main
from tests.conftest import alerts_run

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "execution_telemetry")


@pytest.fixture
def cfg(tmp_path, logs):
    """A config file over ``logs``: console to stdout, fast delivery; channels selectable."""

    def write(channels: str = "'console'") -> str:
        path = tmp_path / "alerts.toml"
        path.write_text(
            f"[execution.telemetry]\nbase_path = '{logs}'\n"
            f"[execution.alerts]\nchannels = [{channels}]\n"
            "[execution.alerts.console]\ntarget = 'stdout'\n"
            "[execution.alerts.delivery]\nmax_attempts = 2\n"
            "backoff_initial_s = 0.01\nbackoff_max_s = 0.01\n"
        )
        return str(path)

    return write


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), stdout=out)
    return code, out.getvalue()


def recent_errors(log, n=1):
    now = time.time()
    for i in range(n):
        log.add(now - 5 + i * 0.01, "error", error="venue down")


def test_check_exit_codes_follow_the_worst_firing_alert(cfg, session_log, capsys):
    """Healthy 0; an error event (warning) 1; errors over 10% of events (critical) 2."""
    config = cfg()
    log = session_log("s1")
    now = time.time()
    for i in range(10):
        log.trade(now - 60 + i)
    assert run("check", "--config", config)[0] == 0
    recent_errors(log)
    code, out = run("check", "--config", config)
    assert code == 1 and "WARNING  firing   errors:s1" in out
    assert "ALERT WARNING FIRING: errors on s1" in capsys.readouterr().out
    recent_errors(log, 10)
    code, out = run("check", "--config", config)
    assert code == 2 and "CRITICAL firing   errors:s1" in out


def test_acknowledged_or_snoozed_alerts_do_not_fail_the_check(cfg, session_log):
    """After ack the check exits 0 and says who acked; a snooze likewise."""
    config = cfg()
    recent_errors(session_log("s1"))
    assert run("check", "--config", config)[0] == 1
    code, out = run(
        "ack",
        "errors:s1",
        "--for",
        "2h",
        "--by",
        "ann",
        "--note",
        "venue aware",
        "--config",
        config,
    )
    assert code == 0 and out == "acknowledged errors:s1 for 2h\n"
    code, out = run("check", "--config", config)
    assert code == 0 and "acked by ann" in out
    recent_errors(session_log("s2"))
    assert run("check", "--config", config)[0] == 1
    code, out = run("snooze", "errors:s2", "--for", "15m", "--config", config)
    assert code == 0 and "snoozed 'errors:s2' until" in out
    assert run("check", "--config", config)[0] == 0
    code, out = run("list", "--config", config)
    assert "errors:s1" in out and "errors:s2" in out and "snooze s-" in out


def test_unsnooze_and_ack_of_nothing_are_reported(cfg, session_log):
    """Lifting a snooze by id works; acking or unsnoozing what does not exist exits 3."""
    config = cfg()
    _, out = run("snooze", "latency", "--for", "1h", "--config", config)
    sid = out.split("(")[-1].rstrip(")\n")
    assert run("unsnooze", sid, "--config", config) == (0, f"lifted snooze {sid} 'latency'\n")
    assert run("unsnooze", sid, "--config", config)[0] == 3
    assert run("ack", "errors:none", "--config", config)[0] == 3


def test_check_json_document(cfg, session_log):
    """--json: evaluated_at, sessions, alerts and the notifications sent."""
    recent_errors(session_log("s1"))
    code, out = run("check", "--json", "--config", cfg())
    doc = json.loads(out[out.index("{") :])
    assert code == 1 and doc["sessions"] == ["s1"] and doc["dry_run"] is False
    assert [a["key"] for a in doc["alerts"]] == ["errors:s1"]
    assert [n["event"] for n in doc["notifications"]] == ["firing"]
    assert doc["deliveries"]["console"]["ok"] == 1


def test_as_of_reviews_the_past_without_recording(tmp_path):
    """--as-of on the golden fixtures: the latency session would have warned; no state written."""
    code, out = run("check", "--path", FIXTURES, "--as-of", "2025-12-20T10:05:00Z")
    assert code == 1 and "(dry run)" in out
    assert "latency:session_latency:order_to_fill" in out
    assert not os.path.exists(os.path.join(FIXTURES, ".alerts"))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", "--session", "s9"], "no execution log found for session 's9'"),
        (["check", "--as-of", "yesterday"], "yesterday"),
        (["check", "--path", "/nonexistent/x"], "does not exist"),
        (["ack", "x", "--for", "soon"], "invalid duration 'soon'"),
        # beyond year 9999 the silence could never be shown: refused before it is written
        (["snooze", "*", "--for", "1e12"], "invalid duration '1e12'"),
        (["ack", "x", "--for", "400000d"], "invalid duration '400000d'"),
        (["check", "--bogus"], "unrecognized arguments"),
    ],
)
def test_bad_input_is_one_line_and_exit_3(cfg, session_log, capsys, argv, message):
    """Every kind of bad input: exit 3 and a single error line naming the problem."""
    session_log("s1").add(time.time(), "intent")
    try:
        code = main([*argv, "--config", cfg()])
    except SystemExit as exc:  # argparse errors exit from inside parse_args
        code = exc.code
    err = capsys.readouterr().err
    assert code == 3 and message in err and err.count("\n") == 1


def test_a_channel_without_its_secret_stops_start_up(cfg, session_log, capsys, monkeypatch):
    """channels = ['slack'] without $TELEMETRY_ALERTS_SLACK_URL: exit 3 naming the variable."""
    monkeypatch.delenv("TELEMETRY_ALERTS_SLACK_URL", raising=False)
    assert main(["check", "--config", cfg("'slack'")]) == 3
    assert "$TELEMETRY_ALERTS_SLACK_URL is not set" in capsys.readouterr().err


def test_test_command_delivers_to_a_real_webhook_and_reports_failures(cfg, receiver, monkeypatch):
    """test: 0 and a test payload received; an endpoint answering 500: exit 1, all recorded."""
    path = cfg("'webhook'")
    monkeypatch.setenv("TELEMETRY_ALERTS_WEBHOOK_URL", receiver.url("/alerts"))
    assert run("test", "--config", path) == (0, "webhook: ok\n")
    assert receiver.json(0)["notification"]["event"] == "test"
    receiver.statuses.extend([500, 500])
    assert run("test", "--config", path) == (1, "webhook: failed\n")
    code, out = run("deliveries", "--config", path)
    assert code == 0
    assert [line.split()[1] for line in out.splitlines()] == ["ok", "retry", "failed"]


def test_script_runs_as_a_cron_job_would(cfg, session_log, repo_root):
    """scripts/telemetry_alerts.py check in a subprocess: exit code 1 for a warning."""
    recent_errors(session_log("s1"))
    done = subprocess.run(
        [
            sys.executable,
            str(repo_root / "scripts" / "telemetry_alerts.py"),
            "check",
            "--config",
            cfg(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "errors:s1" in done.stdout and "Traceback" not in done.stderr


def test_run_follows_the_logs_and_stops_cleanly_on_sigterm(cfg, session_log):
    """run: an error appended while it runs is announced; SIGTERM ends it with exit 0."""
    log = session_log("s1")
    log.trade(time.time())
    with alerts_run("--config", cfg()) as proc:
        assert "telemetry-alerts: following" in proc.stdout.readline()
        recent_errors(log)
        line = proc.stdout.readline()
        assert "ALERT WARNING FIRING: errors on s1" in line
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_check_while_another_engine_runs_only_judges(cfg, session_log, capsys):
    """While an engine runs, check only judges (still exit 1) and run refuses (exit 3)."""
    from src.alerts.config import load_alerts_config
    from src.alerts.service import build_engine
    from src.execution.config import load_config

    path = cfg()
    recent_errors(session_log("s1"))
    engine = build_engine(load_alerts_config(path), load_config(path).telemetry.base_path)
    try:
        code, out = run("check", "--config", path)
        err = capsys.readouterr()
        assert code == 1 and "(dry run)" in out
        assert "judging only" in err.err and "ALERT" not in err.out
        assert main(["run", "--config", path]) == 3
        assert "another telemetry-alerts engine" in capsys.readouterr().err
    finally:
        engine.close()


BAD_STATE_FILES = {
    "alert is a number": {"alerts": {"x": 5}},
    "outbox item without a channel": {
        "outbox": [
            {
                "id": "n-1/console",
                "notification": {"id": "n-1", "key": "errors:s1", "event": "firing"},
            }
        ]
    },
    "deep nesting": {"alerts": {"x": "DEEP"}},
}


def write_bad_state(logs, shape: str):
    doc = {
        "version": 1,
        "seq": 0,
        "alerts": {},
        "silences": [],
        "outbox": [],
        **BAD_STATE_FILES[shape],
    }
    path = logs / ".alerts" / "state.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(doc).replace('"DEEP"', "[" * 50_000 + "]" * 50_000))
    return path


@pytest.mark.parametrize("shape", list(BAD_STATE_FILES))
def test_check_with_a_bad_state_file_moves_it_aside_and_still_judges(
    cfg, logs, session_log, repo_root, shape
):
    """check (a real subprocess): the bad file is moved aside and said so on stderr; the
    evaluation still runs and records a fresh state (exit 1 for the warning, no traceback)."""
    recent_errors(session_log("s1"))
    path = write_bad_state(logs, shape)
    bad = path.read_bytes()
    done = subprocess.run(
        [
            sys.executable,
            str(repo_root / "scripts" / "telemetry_alerts.py"),
            "check",
            "--config",
            cfg(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "not a valid state file" in done.stderr and "moved aside" in done.stderr
    (aside,) = path.parent.glob("state.json.corrupt-*")
    assert aside.read_bytes() == bad
    assert "errors:s1" in json.loads(path.read_text())["alerts"]


def test_list_with_a_bad_state_file_is_one_line_and_exit_3(cfg, logs, capsys):
    """list only reads: a bad file is named in one line (exit 3), and left where it is."""
    path = write_bad_state(logs, "alert is a number")
    assert main(["list", "--config", cfg()]) == 3
    err = capsys.readouterr().err
    assert "not a valid state file" in err and "$.alerts" in err and len(err.splitlines()) == 1
    assert path.exists()


def test_run_starts_with_an_outbox_item_without_a_channel(cfg, logs, session_log):
    """run: the bad file no longer stops the start; it is moved aside and alerts still fire."""
    log = session_log("s1")
    log.trade(time.time())
    path = write_bad_state(logs, "outbox item without a channel")
    with alerts_run("--config", cfg()) as proc:
        assert "telemetry-alerts: following" in proc.stdout.readline()
        recent_errors(log)
        assert "ALERT WARNING FIRING: errors on s1" in proc.stdout.readline()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        err = proc.stderr.read()
        assert "moved aside" in err and "Traceback" not in err
        assert len(list(path.parent.glob("state.json.corrupt-*"))) == 1


def _deliveries_cli(config: str, repo_root) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(repo_root / "scripts" / "telemetry_alerts.py"), "deliveries",
         "--config", config],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize("kind", ["fifo", "directory", "symlink"])
def test_deliveries_on_something_other_than_a_file_is_bad_input(kind, cfg, logs, repo_root):
    """A FIFO, a directory or a link at the delivery log: one line naming it, exit 3 (not
    "no deliveries recorded"); the FIFO does not hang the reader."""
    path = logs / ".alerts" / "deliveries.jsonl"
    path.parent.mkdir()
    real = logs / "real.jsonl"
    real.write_text(json.dumps({"id": "a", "outcome": "ok", "ts": 1}) + "\n")
    make = {"fifo": os.mkfifo, "directory": os.mkdir, "symlink": lambda p: p.symlink_to(real)}
    make[kind](path)
    done = _deliveries_cli(cfg(), repo_root)
    assert done.returncode == 3, done
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and str(path) in done.stderr
    assert "not a regular file" in done.stderr


def test_deliveries_without_a_log_yet_is_not_an_error(cfg, repo_root):
    """No delivery log at all: the usual empty answer, exit 0."""
    done = _deliveries_cli(cfg(), repo_root)
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "no deliveries recorded", "")


def test_check_says_when_its_deliveries_could_not_be_recorded(cfg, session_log, logs, capsys):
    """A FIFO at the delivery log: the notification still goes out, and check ends with one
    line naming the log and how many records were lost (never silently, never blocking)."""
    config = cfg()
    log = session_log("s1")
    now = time.time()
    for i in range(10):
        log.trade(now - 60 + i)
    recent_errors(log)
    fifo = logs / ".alerts" / "deliveries.jsonl"
    fifo.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(fifo)
    code, out = run("check", "--config", config)
    assert code == 1 and "1 notification(s) to: console" in out
    err = capsys.readouterr().err
    assert f"could not be written to {fifo}" in err
