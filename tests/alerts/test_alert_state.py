"""The alert state file: atomic replacement, locked read-modify-write, recovery."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import types

import pytest

from src.alerts import state as state_module
from src.alerts.state import InvalidStateFile, StateError, StateStore, empty_state

DEEP = 100_000

ALERT = {
    "key": "errors:s1",
    "rule": "errors",
    "session_id": "s1",
    "status": "firing",
    "severity": "warning",
    "since": 1.0,
}
NOTE = {
    "id": "n-1",
    "event": "firing",
    "key": "errors:s1",
    "rule": "errors",
    "session_id": "s1",
    "severity": "warning",
    "at": 1.0,
}


def state_with(**parts) -> bytes:
    doc = json.dumps({**empty_state(), **{k: None for k in parts}})
    for name, text in parts.items():  # raw JSON text, so nesting can exceed json's own limit
        doc = doc.replace(f'"{name}": null', f'"{name}": {text}')
    return doc.encode()


BAD_STATES = {
    "alert is a number": state_with(alerts='{"x": 5}'),
    "outbox item without a channel": state_with(
        outbox=json.dumps([{"id": "n-1/console", "notification": NOTE, "created_at": 1.0}])
    ),
    "deep nesting in an alert": state_with(alerts='{"x": ' + "[" * DEEP + "]" * DEEP + "}"),
    "deep nesting in an unknown field": state_with(extra="[" * DEEP + "]" * DEEP),
    "unknown severity": state_with(alerts=json.dumps({"x": {**ALERT, "severity": "bad"}})),
    "resolved without resolved_at": state_with(
        alerts=json.dumps({"x": {**ALERT, "status": "resolved"}})
    ),
    "ack that is a string": state_with(alerts=json.dumps({"x": {**ALERT, "ack": "me"}})),
    "silence without until": state_with(silences=json.dumps([{"id": "s-1", "pattern": "*"}])),
    "notification without key": state_with(
        outbox=json.dumps(
            [
                {
                    "id": "i",
                    "channel": "c",
                    "notification": {k: v for k, v in NOTE.items() if k != "key"},
                }
            ]
        )
    ),
    "time beyond year 9999": state_with(alerts=json.dumps({"x": {**ALERT, "since": 1e300}})),
    "silence until beyond year 9999": state_with(
        silences=json.dumps([{"id": "s-1", "pattern": "*", "until": 1e12}])
    ),
    "negative time": state_with(
        alerts=json.dumps({"x": {**ALERT, "ack": {"by": "me", "until": -1e300}}})
    ),
    "infinite time": state_with(
        outbox=json.dumps([{"id": "i", "channel": "c", "notification": {**NOTE, "at": 1e400}}])
    ),
    "seq is text": state_with(seq='"7"'),
    "other version": state_with(version="2"),
    "not an object": b"[]",
    "not JSON": b"{nope",
}


def test_a_valid_state_written_by_the_lifecycle_reads_back(tmp_path):
    """The schema accepts what the engine writes: alerts, acks, silences, outbox, delivery."""
    store = StateStore(tmp_path / "state.json")
    with store.update() as state:
        state["alerts"]["errors:s1"] = {**ALERT, "ack": {"by": "me", "at": 2.0, "until": None}}
        state["silences"].append({"id": "s-1", "pattern": "*", "until": 9e9, "by": "me"})
        state["outbox"].append({"id": "n-1/c", "channel": "c", "notification": NOTE})
        state["delivery"] = {"c": {"ok": 1, "failed": 2}}
    got = store.read()
    assert got["alerts"]["errors:s1"]["ack"]["by"] == "me"
    assert got["outbox"][0]["notification"]["key"] == "errors:s1"
    assert got["delivery"]["c"]["failed"] == 2


@pytest.mark.parametrize("raw", list(BAD_STATES.values()), ids=list(BAD_STATES))
def test_a_bad_state_file_is_refused_whole_and_moved_aside(tmp_path, raw, caplog):
    """Right outline, wrong contents: read() names it in one line; update() moves it aside,
    logs that, and starts from an empty state (the original bytes kept for inspection)."""
    store = StateStore(tmp_path / "state.json")
    store.path.write_bytes(raw)
    with pytest.raises(InvalidStateFile, match="not a valid state file") as info:
        store.read()
    assert "\n" not in str(info.value) and len(str(info.value)) < 400
    with store.update() as state:
        assert state == {**empty_state(), "updated_at": None}
        state["seq"] = 3
    assert store.read()["seq"] == 3
    (aside,) = tmp_path.glob("state.json.corrupt-*")
    assert aside.read_bytes() == raw
    assert "moved aside to" in caplog.text and str(aside) in caplog.text


def test_two_corruptions_in_the_same_second_keep_both_files(tmp_path, monkeypatch):
    """Each bad file gets a name of its own, even with the clock standing still."""
    frozen = time.time()
    monkeypatch.setattr(
        state_module,
        "time",
        types.SimpleNamespace(
            time=lambda: frozen, gmtime=lambda *a: time.gmtime(frozen), strftime=time.strftime
        ),
    )
    store = StateStore(tmp_path / "state.json")
    for raw in (b"{first", b"{second", b"{third"):
        store.path.write_bytes(raw)
        with store.update():
            pass
    kept = sorted(p.read_bytes() for p in tmp_path.glob("state.json.corrupt-*"))
    assert kept == [b"{first", b"{second", b"{third"]


def test_missing_file_reads_as_empty_state(tmp_path):
    """No state file yet: an empty state, and nothing is created by reading."""
    store = StateStore(tmp_path / "alerts" / "state.json")
    assert store.read() == empty_state()
    assert not store.path.exists()


def test_update_writes_the_state_back_atomically(tmp_path):
    """Changes made inside update() are on disk afterwards; no temp file is left behind."""
    store = StateStore(tmp_path / "alerts" / "state.json")
    with store.update() as state:
        state["alerts"]["k"] = {"status": "firing"}
    on_disk = json.loads(store.path.read_text())
    assert on_disk["alerts"] == {"k": {"status": "firing"}} and on_disk["updated_at"]
    assert sorted(p.name for p in store.path.parent.iterdir()) == ["state.json", "state.json.lock"]


def test_failed_update_leaves_the_previous_state(tmp_path):
    """An exception inside update() writes nothing: the file keeps its last good content."""
    store = StateStore(tmp_path / "state.json")
    with store.update() as state:
        state["seq"] = 1
    with pytest.raises(RuntimeError), store.update() as state:
        state["seq"] = 2
        raise RuntimeError("boom")
    assert store.read()["seq"] == 1


def test_concurrent_updates_from_threads_and_another_process_lose_nothing(tmp_path, repo_root):
    """Read-modify-write under the file lock: 3 writers x 100 increments = 300."""
    store = StateStore(tmp_path / "state.json")
    script = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from src.alerts.state import StateStore\n"
        "s = StateStore(sys.argv[2])\n"
        "for _ in range(100):\n"
        "    with s.update() as st: st['seq'] += 1\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(repo_root), str(store.path)])

    def bump() -> None:
        for _ in range(100):
            with store.update() as st:
                st["seq"] += 1

    threads = [threading.Thread(target=bump) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert proc.wait(timeout=60) == 0
    assert store.read()["seq"] == 300


def test_unreadable_state_is_an_error_for_readers_and_moved_aside_by_writers(tmp_path):
    """A corrupt file: read() says so in one line; update() keeps it aside and starts over."""
    store = StateStore(tmp_path / "state.json")
    store.path.write_text("{not json")
    with pytest.raises(StateError, match="not a valid state file"):
        store.read()
    with store.update() as state:
        state["seq"] = 7
    assert store.read()["seq"] == 7
    assert len(list(tmp_path.glob("state.json.corrupt-*"))) == 1


def test_only_one_engine_claims_a_state_file_at_a_time(tmp_path, repo_root):
    """A second claim (here or in another process) is refused until the first is released."""
    from src.alerts.state import EngineBusy

    first = StateStore(tmp_path / "state.json")
    first.claim()
    with pytest.raises(EngineBusy, match="another telemetry-alerts engine"):
        StateStore(tmp_path / "state.json").claim()
    script = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from src.alerts.state import EngineBusy, StateStore\n"
        "try:\n    StateStore(sys.argv[2]).claim()\nexcept EngineBusy:\n    sys.exit(9)\n"
    )
    args = [sys.executable, "-c", script, str(repo_root), str(first.path)]
    assert subprocess.run(args, timeout=60).returncode == 9
    first.release()
    first.release()
    assert subprocess.run(args, timeout=60).returncode == 0


def _unblock(fifo) -> None:
    """Release a reader stuck opening ``fifo`` (only when the code under test hangs)."""
    import os

    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass


def _in_thread(fn, fifo):
    """``fn()``'s result or exception, from a thread given 10 s (a hang fails the test)."""
    out: dict = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as exc:
            out["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(10)
    if t.is_alive():
        _unblock(fifo)
        t.join(10)
        pytest.fail("the reader hung on a FIFO at the state path")
    return out


def test_a_fifo_at_the_state_path_does_not_hang_the_engine_and_is_moved_aside(tmp_path):
    """read() says it is no state file (no hang); update() moves it aside and starts empty."""
    import os

    path = tmp_path / "state.json"
    os.mkfifo(path)
    store = StateStore(path)
    out = _in_thread(store.read, path)
    assert isinstance(out.get("error"), InvalidStateFile), out
    assert "not a regular file" in str(out["error"])

    def bump():
        with store.update() as state:
            state["seq"] = 7

    assert "error" not in _in_thread(bump, path)
    assert store.read()["seq"] == 7
    (aside,) = [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    assert aside.is_fifo()


def test_an_oversized_state_file_is_taken_as_damaged_not_read(tmp_path, monkeypatch):
    """A file past the cap is never read: read() calls it invalid, update() moves it aside."""
    path = tmp_path / "state.json"
    path.write_bytes(json.dumps(empty_state()).encode())
    with open(path, "r+b") as fh:  # sparse: past the cap without writing 64 MiB
        fh.truncate(state_module.MAX_STATE_BYTES + 1)
    store = StateStore(path)
    with pytest.raises(InvalidStateFile, match="at most"):
        store.read()
    with store.update() as state:
        state["seq"] = 3
    assert store.read()["seq"] == 3
    assert len([p for p in tmp_path.iterdir() if ".corrupt-" in p.name]) == 1


def test_a_fifo_as_the_delivery_log_does_not_hang_its_reader(tmp_path):
    """telemetry-alerts deliveries reads the log without blocking: a FIFO is named as such
    at once (DeliveryLogError), never waited on."""
    import os

    from src.alerts.deliverylog import DeliveryLogError, read_deliveries

    path = tmp_path / "deliveries.jsonl"
    os.mkfifo(path)
    error = _in_thread(lambda: read_deliveries(path), path)["error"]
    assert isinstance(error, DeliveryLogError) and "is a FIFO" in str(error)
