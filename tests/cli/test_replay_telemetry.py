"""telemetry-replay: targets (JSONL dir, configured sinks, stdout), refusals, exit codes."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from src.cli.common import EXIT_FAILED, EXIT_INPUT, EXIT_OK
from src.cli.replay_telemetry import main
from src.execution.events import ExecutionEvent
from src.query.engine import iter_events
from src.query.filters import EventFilter
from tests.conftest import drain

ROOT = Path(__file__).resolve().parents[2]
FIX = str(ROOT / "tests" / "fixtures" / "execution_telemetry")


def events(base, session: str) -> list[dict]:
    return [r.data for r in iter_events(base, EventFilter.build(session_id=session))]


def test_into_another_directory_as_a_new_session(tmp_path, capsys):
    """--into DIR --as-session NEW writes a session log the query layer reads back equal."""
    code = main(
        [
            "--path",
            FIX,
            "--session",
            "session_latency",
            "--into",
            str(tmp_path),
            "--as-session",
            "incident-1",
        ]
    )
    assert code == EXIT_OK
    assert "replayed 25 events" in capsys.readouterr().err
    replayed = events(tmp_path, "incident-1")
    original = events(FIX, "session_latency")
    # New events (own ids), the original's id kept in the payload; everything else equal.
    assert [r["payload"]["origin_event_id"] for r in replayed] == [r["event_id"] for r in original]
    assert not {r["event_id"] for r in replayed} & {r["event_id"] for r in original}

    def same(r: dict) -> dict:
        payload = {k: v for k, v in r["payload"].items() if k != "origin_event_id"}
        return {**r, "session_id": "x", "event_id": "x", "payload": payload}

    assert [same(r) for r in replayed] == [same(r) for r in original]


def test_daily_rotation_and_filters(tmp_path):
    """--type fill --rotation daily: only fills, under a day directory."""
    assert (
        main(
            [
                "--path",
                FIX,
                "--session",
                "session_clean",
                "--type",
                "fill",
                "--into",
                str(tmp_path),
                "--rotation",
                "daily",
            ]
        )
        == EXIT_OK
    )
    (day,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert {r["kind"] for r in events(tmp_path, "session_clean")} == {"fill"}
    assert (day / "session_clean.jsonl").is_file()


def test_existing_target_session_needs_force(tmp_path, capsys):
    """A second replay into the same session is refused (exit 3) until --force appends."""
    args = ["--path", FIX, "--session", "session_clean", "--into", str(tmp_path)]
    assert main(args) == EXIT_OK
    assert main(args) == EXIT_INPUT
    assert "already has a log" in capsys.readouterr().err
    assert main([*args, "--force"]) == EXIT_OK
    assert len(events(tmp_path, "session_clean")) == 44


def test_replaying_a_session_into_itself_is_refused(tmp_path, capsys):
    """Same directory and same session id would read what it writes: exit 3."""
    assert main(["--path", FIX, "--session", "session_clean", "--into", FIX, "--force"]) == 3
    assert "into itself" in capsys.readouterr().err


def test_stdout_sink(capsys):
    """--stdout prints the events as JSON lines in the logger's format."""
    sink = io.BytesIO()
    assert (
        main(
            ["--path", FIX, "--session", "session_clean", "--type", "gate", "--stdout"], stdout=sink
        )
        == EXIT_OK
    )
    lines = sink.getvalue().splitlines()
    assert len(lines) == 9 and all(orjson.loads(x)["kind"] == "gate" for x in lines)
    assert b'"kind": "gate"' in lines[0]


def test_into_the_configured_sink_chain(tmp_path):
    """--into-config builds the sinks of a config file (here JSONL behind a queue)."""
    config = tmp_path / "execution.toml"
    target = tmp_path / "configured"
    config.write_text(
        f'[execution.telemetry]\nbase_path = "{target}"\nqueue_size = 8\nfsync = "none"\n'
    )
    assert (
        main(["--path", FIX, "--session", "session_latency", "--into-config", str(config)])
        == EXIT_OK
    )
    assert len(events(target, "session_latency")) == 25


def test_replaying_into_the_root_it_reads_ends(tmp_path):
    """--into-config whose JSONL sink writes to the root being replayed (the same session):
    the replay reads its own output back and must skip it, not replay it again forever
    (it appended ~40,000 lines a second until the disk was full)."""
    import shutil
    import subprocess
    import sys

    root = tmp_path / "logs"
    root.mkdir()
    shutil.copy(Path(FIX) / "session_latency.jsonl", root)
    config = tmp_path / "execution.toml"
    config.write_text(f'[execution.telemetry]\nbase_path = "{root}"\nfsync = "none"\n')
    done = subprocess.run(
        [str(Path(sys.executable).parent / "telemetry-replay"), "--path", str(root),
         "--session", "session_latency", "--into-config", str(config)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == EXIT_OK, done.stderr
    assert "replayed 25 events" in done.stderr
    replayed = events(root, "session_latency")
    assert len(replayed) == 50
    assert len({r["event_id"] for r in replayed}) == 50


def test_sink_failures_exit_1(tmp_path, capsys):
    """Events the sink could not write are reported and the exit code is 1."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the log directory should be")
    assert main(["--path", FIX, "--session", "session_clean", "--into", str(blocker)]) == (
        EXIT_FAILED
    )
    assert "sink errors 22" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--speed", "0", "--stdout"], "must be > 0"),
        (["--as-session", "../x", "--stdout"], "invalid session_id"),
        (["--session", "nope", "--stdout"], "no execution log found"),
        (["--session", "session_clean"], "one of the arguments"),
    ],
)
def test_bad_input_exit_3(capsys, args, message):
    """Bad speed, unsafe target id, unknown session, no target: one line, exit 3."""
    try:
        code = main(["--path", FIX, *args])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    assert code == EXIT_INPUT
    assert message in capsys.readouterr().err


def test_replay_through_redis_reaches_the_archive_while_the_original_is_there(
    redis_server, tmp_path
):
    """telemetry-replay --into-config (Redis backend) --as-session X, with the original
    session already archived by the same collector: every replayed event lands in X's file
    (none dropped as a duplicate of its original), each naming its original's id."""
    import subprocess
    import sys

    from src.execution.telemetry import RedisStreamEmitter
    from src.streaming.collector import Collector

    stream = "t:replay"
    archive = tmp_path / "archive"
    original = [ExecutionEvent.from_dict(e) for e in events(FIX, "session_latency")]
    sink = RedisStreamEmitter(redis_server.url, stream=stream)
    for event in original:
        sink.emit(event)
    assert sink.flush(timeout=30)
    sink.close()
    config = tmp_path / "execution.toml"
    config.write_text(
        f'[execution.telemetry]\nbackend = "redis"\nheartbeat_interval_s = 0\n'
        f'[execution.telemetry.redis]\nurl = "{redis_server.url}"\nstream = "{stream}"\n'
    )
    with Collector(redis_server.url, archive_path=str(archive), stream=stream, consumer="c1",
                   block_ms=50, fsync="none") as collector:  # fmt: skip
        drain(collector)
        assert collector.stats.written == len(original) == 25
        done = subprocess.run(
            [sys.executable, "-m", "src.cli.replay_telemetry", "--path", str(archive),
             "--session", "session_latency", "--into-config", str(config),
             "--as-session", "incident-x"],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == EXIT_OK, done.stderr
        drain(collector)
        assert collector.stats.duplicates == 0
    replayed = events(archive, "incident-x")
    assert len(replayed) == 25
    assert [r["payload"]["origin_event_id"] for r in replayed] == [e.event_id for e in original]
    assert len(events(archive, "session_latency")) == 25
