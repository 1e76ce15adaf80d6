"""Excel builds on a real server: cancelled with their client, bounded, stopped by SIGTERM,
and scratch directories of dead dashboards removed at start."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from src.webui.export_builds import SCRATCH_PREFIX

EVENTS = 100_000  # an Excel build of several seconds at least, on any machine


@pytest.fixture
def big_session(logs) -> str:
    """A session large enough that its Excel export takes a while."""
    line = {
        "ts": "",
        "session_id": "big",
        "symbol": "BTC-USD",
        "mode": "paper",
        "kind": "fill",
        "payload": {"client_id": "o1", "filled_quantity": 1.0, "fill_price": 100.0},
        "seq": 0,
        "event_id": "",
    }
    with (logs / "big.jsonl").open("w") as fh:
        for i in range(EVENTS):
            line["seq"], line["event_id"] = i, f"e{i}"
            line["ts"] = f"2025-12-20T10:{i // 6000 % 60:02d}:{i // 100 % 60:02d}.{i % 100:02d}Z"
            fh.write(json.dumps(line) + "\n")
    return "big"


def children(pid: int) -> list[int]:
    """Live (not zombie) child processes of ``pid`` running the export worker."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
        except OSError:
            continue
        state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
        if int(ppid) == pid and state != "Z" and b"src.export.worker" in cmdline:
            found.append(int(name))
    return found


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for(what, timeout: float = 90.0, step: float = 0.1):
    """Poll ``what()`` until it is truthy (generous bound: machines are noisy)."""
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value:
            return value
        assert time.monotonic() < deadline, f"gave up waiting for {what.__doc__ or what}"
        time.sleep(step)


def start_export(port: int, session: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    request = f"GET /api/export?session_id={session}&format=xlsx HTTP/1.1\r\nHost: x\r\n\r\n"
    sock.sendall(request.encode())
    return sock


def scratch_dirs(root: Path) -> list[Path]:
    return sorted(root.glob(SCRATCH_PREFIX + "*"))


def test_a_build_stops_when_its_client_leaves_and_builds_are_bounded(
    uvicorn_app, big_session, tmp_path
):
    """Two builds run (the bound); a third request is 503 with Retry-After; closing the
    clients kills both builds, removes their scratch dirs, and the server goes idle."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    with uvicorn_app(env={"TMPDIR": str(scratch)}) as app:
        socks = [start_export(app.port, big_session) for _ in range(2)]
        try:
            builders = wait_for(lambda: len(children(app.proc.pid)) == 2 and children(app.proc.pid))
            assert len(scratch_dirs(scratch)) == 2
            url = f"http://127.0.0.1:{app.port}/api/export?session_id=big&format=xlsx"
            with pytest.raises(urllib.error.HTTPError) as busy:
                urllib.request.urlopen(url, timeout=60)
            assert busy.value.code == 503 and busy.value.headers["Retry-After"] == "30"
            assert "being built already" in json.loads(busy.value.read())["detail"]
        finally:
            for sock in socks:
                sock.close()
        wait_for(lambda: not children(app.proc.pid) and not scratch_dirs(scratch))
        for pid in builders:
            assert not Path(f"/proc/{pid}").exists() or pid not in children(app.proc.pid)
        wait_for(lambda: app.stderr.count("cancelled (client disconnected)") == 2)
        before = cpu_seconds(app.proc.pid)
        time.sleep(1.0)
        assert cpu_seconds(app.proc.pid) - before < 0.5  # idle: nothing left building
        with urllib.request.urlopen(f"http://127.0.0.1:{app.port}/healthz", timeout=30) as r:
            assert r.status == 200


def test_a_finished_build_is_sent_whole_and_leaves_nothing(uvicorn_app, tmp_path):
    """A small xlsx download completes; its scratch dir and worker are gone afterwards."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    with uvicorn_app(env={"TMPDIR": str(scratch)}) as app:
        url = f"http://127.0.0.1:{app.port}/api/export?session_id=session_clean&format=xlsx"
        with urllib.request.urlopen(url, timeout=120) as r:
            body = r.read()
            assert int(r.headers["Content-Length"]) == len(body) and body[:2] == b"PK"
        assert not scratch_dirs(scratch) and not children(app.proc.pid)


def test_sigterm_during_a_build_stops_the_server_promptly(uvicorn_app, big_session, tmp_path):
    """SIGTERM while a big build runs: the build is killed, the server exits (generous
    bound, far below the build's own duration) and leaves no scratch directory."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    with uvicorn_app(env={"TMPDIR": str(scratch)}) as app:
        sock = start_export(app.port, big_session)
        try:
            (builder,) = wait_for(lambda: children(app.proc.pid))
            app.proc.send_signal(signal.SIGTERM)
            app.proc.wait(timeout=60)
        finally:
            sock.close()
        assert "cancelled (server stopping)" in app.stderr
        assert not Path(f"/proc/{builder}").exists()
        assert not scratch_dirs(scratch)


def test_stale_scratch_dirs_of_dead_dashboards_are_removed_at_start(uvicorn_app, tmp_path):
    """At start: ours from a dead pid, or older than the live process now holding that pid,
    are removed; a live dashboard's, other names and symlinks are left alone."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        dead_owner = scratch / f"{SCRATCH_PREFIX}{gone.pid}-abc"
        reused_pid = scratch / f"{SCRATCH_PREFIX}{alive.pid}-old"
        live_owner = scratch / f"{SCRATCH_PREFIX}{alive.pid}-new"
        other = scratch / "telemetry-something-else-1-x"
        target = tmp_path / "not-ours"
        for d in (dead_owner, reused_pid, live_owner, other, target):
            d.mkdir()
            (d / "export.xlsx").write_bytes(b"x" * 100)
        link = scratch / f"{SCRATCH_PREFIX}{gone.pid}-link"
        link.symlink_to(target)
        hour_ago = time.time() - 3600
        os.utime(reused_pid, (hour_ago, hour_ago))
        with uvicorn_app(env={"TMPDIR": str(scratch)}) as app:
            assert not dead_owner.exists() and not reused_pid.exists()
            assert live_owner.exists() and other.exists() and link.is_symlink()
            assert (target / "export.xlsx").exists()
            assert "stale export scratch directory" in app.stderr
    finally:
        alive.kill()
        alive.wait()


def niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def test_a_build_outlives_the_thread_that_started_it(logs, big_session):
    """Linux sends the parent-death signal when the *thread* that forked the child ends, and
    the server starts builds from worker threads that end when idle: a build must survive
    its starting thread and finish (it was killed with SIGKILL mid-build)."""
    import threading

    from src.query.filters import EventFilter
    from src.webui.export_builds import ExportBuilds

    builds = ExportBuilds(1)
    started = []

    def start_then_end() -> None:
        build = builds.start(logs, EventFilter(session_id="big"), "xlsx")
        started.append(build)
        # The worker lowers its priority right after arming the parent-death signal:
        # this thread ends only once the child is past that point.
        wait_for(lambda: build.proc.poll() is not None or niceness(build.proc.pid) == 10)

    thread = threading.Thread(target=start_then_end)
    thread.start()
    thread.join()
    (build,) = started
    try:
        assert build.proc.wait(timeout=300) == 0, build._last_error()
        assert build.output.stat().st_size > 0
    finally:
        build.close()
