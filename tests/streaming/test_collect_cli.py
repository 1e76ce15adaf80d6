"""telemetry-collect: flags over config, exit codes, console script, clean stop, no secrets."""

from __future__ import annotations

import signal
import subprocess
import time
from importlib.metadata import entry_points

import pytest

from src.streaming.collect_cli import main
from src.streaming.redis_server import free_port


def test_console_scripts_are_declared():
    """pyproject declares telemetry-collect and telemetry-metrics as main(argv) entry points."""
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts["telemetry-collect"] == "src.streaming.collect_cli:main"
    assert scripts["telemetry-metrics"] == "src.streaming.metrics_cli:main"


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--batch-size", "0"], "execution.telemetry.collector.batch_size"),
        (["--fsync", "sometimes"], "execution.telemetry.fsync"),
        (["--config", "/nonexistent/execution.toml"], "not found"),
    ],
)
def test_bad_settings_exit_3_with_one_line_naming_them(argv, named, capsys, tmp_path):
    """A bad flag value or config file stops start-up: exit 3 and a message naming it."""
    code = main([*argv, "--archive", str(tmp_path)])
    assert code == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and named in err and "\n" not in err


def test_missing_redis_package_exits_3(repo_root, python, tmp_path):
    """Without redis-py installed the command says which extra to install and exits 3."""
    code = (
        "import sys; sys.modules['redis'] = None\n"
        "from src.streaming.collect_cli import main\n"
        f"sys.exit(main(['--archive', {str(tmp_path)!r}]))\n"
    )
    out = subprocess.run([python, "-c", code], cwd=repo_root, capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert out.returncode == 3 and "execution-telemetry[scale]" in out.stderr


def test_waits_for_redis_stops_cleanly_on_sigterm_and_never_prints_the_password(
    repo_root, python, tmp_path
):
    """Redis unreachable: the service keeps retrying, SIGTERM exits 0, logs hide the password."""
    url = f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0"
    proc = subprocess.Popen(
        [python, "-m", "src.streaming.collect_cli", "--redis-url", url, "--archive",
         str(tmp_path), "--block-ms", "50"],
        cwd=repo_root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        lines = []
        while time.monotonic() < deadline:  # until it has reported the outage once
            line = proc.stderr.readline()
            lines.append(line)
            if "unavailable" in line or not line:
                break
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    text = "".join(lines) + out + err
    assert proc.returncode == 0
    assert "unavailable" in text and ":***@127.0.0.1" in text
    assert "hunter2-secret" not in text
