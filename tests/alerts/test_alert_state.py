"""The alert state file: atomic replacement, locked read-modify-write, recovery."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest

from src.alerts.state import StateError, StateStore, empty_state


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
    with pytest.raises(StateError, match="not a state file"):
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
