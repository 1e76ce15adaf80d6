"""JsonlExecutionLogger.close() racing emit() on another thread: the event goes to the session
file or is counted as dropped after close; never into a descriptor number that close() gave
back and the process reused for an unrelated file, never a raise, never a leaked file.

Each race is made deterministic: the emitter is paused at a hook between fetching its
descriptor (or passing the "closed?" check) and writing, close() runs, other files are
opened (the kernel hands out the lowest free numbers), then the emitter resumes."""

from __future__ import annotations

import fcntl
import gc
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from src.execution.events import ExecutionEvent
from src.execution.serialization import encode_event_line
from src.execution.telemetry import JsonlExecutionLogger, close_gate
from src.execution.telemetry import jsonl as jsonl_module


def pipeline_event(n: int, **overrides: object) -> ExecutionEvent:
    fields: dict[str, object] = {
        "ts": datetime(2025, 1, 1, 12, 0, tzinfo=UTC) + timedelta(seconds=n),
        "session_id": "s",
        "symbol": "BTC-USD",
        "mode": "paper",
        "kind": "fill",
        "payload": {"n": n},
        "seq": n,
        "mono_ns": 1_000 + n,
    }
    fields.update(overrides)
    return ExecutionEvent(**fields)  # type: ignore[arg-type]


class Pause:
    """Stops the emitter thread (only it) at a hook until released."""

    def __init__(self) -> None:
        self.reached, self.release = threading.Event(), threading.Event()
        self.thread: threading.Thread | None = None

    def __call__(self) -> None:
        if threading.current_thread() is self.thread and not self.reached.is_set():
            self.reached.set()
            assert self.release.wait(30), "the test never released the emitter"

    def run(self, target: Callable[[], None]) -> None:
        self.thread = threading.Thread(target=target)
        self.thread.start()
        assert self.reached.wait(30), "the emitter never reached the hook"


def open_unrelated_files(where: Path, up_to: int) -> list[tuple[int, Path]]:
    """Open files as another part of the process would, until the kernel hands out a number
    >= ``up_to`` (each open takes the lowest free number)."""
    where.mkdir()
    opened: list[tuple[int, Path]] = []
    for n in range(up_to + 64):  # bounded: numbers only grow once the free ones below are taken
        path = where / f"other-{n}.txt"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        opened.append((fd, path))
        if fd >= up_to:
            break
    return opened


def race_close(tmp_path: Path, logger: JsonlExecutionLogger, pause: Pause, event: ExecutionEvent):
    """Run emit(event) in a thread until the pause, close the logger, reuse numbers, resume.
    Returns the unrelated files opened meanwhile."""
    fd = logger._fds["s"]
    errors: list[BaseException] = []

    def emit() -> None:
        try:
            logger.emit(event)
        except BaseException as exc:  # what the test is about: nothing may raise
            errors.append(exc)

    pause.run(emit)
    logger.close()
    others = open_unrelated_files(tmp_path / "elsewhere", fd)
    pause.release.set()
    assert pause.thread is not None
    pause.thread.join(30)
    try:
        assert not pause.thread.is_alive() and errors == []
        for _, path in others:
            assert path.read_bytes() == b"", f"the event landed in an unrelated file {path.name}"
    finally:
        for other, _ in others:
            os.close(other)
    return others


def test_a_fast_path_emit_racing_close_never_writes_into_a_reused_descriptor(tmp_path, monkeypatch):
    """The emitter fetched the settled descriptor from the fast-path map, then close() ran
    and another file opened: its line is not written there; it is counted as dropped."""
    logger = JsonlExecutionLogger(tmp_path / "logs")
    first = pipeline_event(0)
    logger.emit(first)  # opens the file and settles the fast path
    pause = Pause()
    real_write = jsonl_module._write

    def pausing_write(fd: int, data: bytes) -> int:
        pause()
        return real_write(fd, data)

    monkeypatch.setattr(jsonl_module, "_write", pausing_write)  # the fast path's write
    race_close(tmp_path, logger, pause, pipeline_event(1))
    assert (logger.stats.emitted, logger.stats.dropped, logger.stats.errors) == (1, 1, 0)
    assert (tmp_path / "logs" / "s.jsonl").read_bytes() == encode_event_line(first)


def test_a_general_path_emit_racing_close_never_writes_into_a_reused_descriptor(
    tmp_path, monkeypatch
):
    """The same on the general path: the emitter took the session's descriptor, close() ran
    while it encoded the line; a strict logger neither raises nor counts an error."""
    logger = JsonlExecutionLogger(tmp_path / "logs", strict=True)
    first = pipeline_event(0)
    logger.emit(first)
    pause = Pause()
    real_encode = jsonl_module.encode_event_line

    def pausing_encode(event: ExecutionEvent) -> bytes:
        pause()
        return real_encode(event)

    monkeypatch.setattr(jsonl_module, "encode_event_line", pausing_encode)
    race_close(tmp_path, logger, pause, pipeline_event(1, seq=None))  # no seq: general path
    assert (logger.stats.emitted, logger.stats.dropped, logger.stats.errors) == (1, 1, 0)
    assert (tmp_path / "logs" / "s.jsonl").read_bytes() == encode_event_line(first)


def files_open_under(root: Path) -> list[str]:
    """Paths under ``root`` that this process holds a descriptor on."""
    held = []
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue  # the listing's own descriptor, gone already
        if target.startswith(str(root)):
            held.append(target)
    return held


def test_an_emit_that_passed_the_closed_check_opens_no_file_after_close(tmp_path):
    """An emitter past the "closed?" check when close() runs must not open the session's file
    afterwards: such a descriptor would never be closed, and its shared lock would keep
    retention from ever compressing the file. The event is dropped, nothing is held."""
    pause = Pause()
    now = datetime(2025, 1, 1, 12, 0, tzinfo=UTC).timestamp()

    def clock() -> float:  # read by the general path right after its "closed?" check
        pause()
        return now

    logger = JsonlExecutionLogger(tmp_path / "logs", rotation="daily", clock=clock)

    def emit() -> None:
        logger.emit(pipeline_event(0))

    pause.run(emit)
    logger.close()
    pause.release.set()
    assert pause.thread is not None
    pause.thread.join(30)
    assert not pause.thread.is_alive()
    assert (logger.stats.emitted, logger.stats.dropped, logger.stats.errors) == (0, 1, 0)
    assert logger.open_sessions() == [] and files_open_under(tmp_path / "logs") == []


@pytest.mark.parametrize("fsync", ["none", "interval", "always"])
def test_close_lets_go_of_every_file_at_once(tmp_path, fsync):
    """Closing keeps the descriptor numbers reserved, not the files: each session file (and
    a retired one still in its grace) is released, and its lock with it, when close() returns."""
    logs = tmp_path / "logs"
    now = [datetime(2025, 1, 1, 23, 59, 59, tzinfo=UTC).timestamp()]
    logger = JsonlExecutionLogger(logs, fsync=fsync, rotation="daily", clock=lambda: now[0])
    logger.emit(pipeline_event(0, session_id="a"))
    now[0] += 2  # past midnight: day one's file is retired (grace), day two's opened
    logger.emit(pipeline_event(1, session_id="a"))
    logger.emit(pipeline_event(2, session_id="b"))
    assert len(files_open_under(logs)) == 3
    logger.close()
    assert files_open_under(logs) == []
    for path in sorted(logs.rglob("*.jsonl")):
        probe = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # retention's probe succeeds
        finally:
            os.close(probe)
    assert logger.stats.errors == 0 and logger.stats.emitted == 3


def test_the_reserved_numbers_are_given_back_with_the_logger(tmp_path):
    """After close each number holds a read-only /dev/null (a write through it fails, it
    cannot be handed out again); once the logger is gone, no thread can be inside its emit,
    and the numbers are closed."""
    logger = JsonlExecutionLogger(tmp_path / "logs")
    logger.emit(pipeline_event(0, session_id="a"))
    logger.emit(pipeline_event(1, session_id="b"))
    fds = sorted(logger._fds.values())
    logger.close()
    assert [os.readlink(f"/proc/self/fd/{fd}") for fd in fds] == [os.devnull] * 2
    with pytest.raises(OSError):
        os.write(fds[0], b"x")
    del logger
    gc.collect()
    for fd in fds:
        with pytest.raises(OSError):
            os.fstat(fd)  # closed (nothing in this test opens a file meanwhile)


def wait_until_close_blocks_or_returns(logger: JsonlExecutionLogger, closer: threading.Thread):
    """Let close() on ``closer`` go as far as it goes: it returned, or it waits at the gate for
    an emit in flight (bounded; a synchronisation, not a timed assertion)."""
    for _ in range(3000):
        gate = getattr(logger, "_gate", None)
        if not closer.is_alive() or (gate is not None and gate.shut_down):
            return
        time.sleep(0.01)


def test_with_fsync_always_close_waits_for_an_emit_between_its_write_and_its_fsync(
    tmp_path, monkeypatch
):
    """fsync="always": the emitter wrote its line, then close() ran on another thread before
    the emitter's fsync. close() waits, the fsync goes to the session file (not the /dev/null
    stand-in), and the event is counted emitted: emit returned, so the line is on disk."""
    logs = tmp_path / "logs"
    logger = JsonlExecutionLogger(logs, fsync="always", strict=True)
    first, second = pipeline_event(0), pipeline_event(1)
    logger.emit(first)
    pause = Pause()
    real_fsync = os.fsync
    fsynced_by_emitter: list[str] = []

    def pausing_fsync(fd: int) -> None:
        pause()  # the emitter only: its line is written, its fsync not done yet
        if threading.current_thread() is pause.thread:
            fsynced_by_emitter.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", pausing_fsync)
    errors: list[BaseException] = []

    def emit() -> None:
        try:
            logger.emit(second)
        except BaseException as exc:
            errors.append(exc)

    pause.run(emit)
    closer = threading.Thread(target=logger.close)
    closer.start()
    wait_until_close_blocks_or_returns(logger, closer)
    pause.release.set()
    assert pause.thread is not None
    pause.thread.join(30)
    closer.join(30)
    assert not pause.thread.is_alive() and not closer.is_alive() and errors == []
    assert fsynced_by_emitter == [str(logs / "s.jsonl")]
    assert (logger.stats.emitted, logger.stats.dropped, logger.stats.errors) == (2, 0, 0)
    assert (logs / "s.jsonl").read_bytes() == encode_event_line(first) + encode_event_line(second)
    logger.emit(pipeline_event(2))  # after close: dropped, not written
    assert (logger.stats.emitted, logger.stats.dropped) == (2, 1)


def test_with_fsync_always_a_close_from_inside_emit_neither_hangs_nor_drops_the_written_line(
    tmp_path, monkeypatch
):
    """close() called on the emitting thread itself between its write and its fsync (from a
    callback, say) does not wait for itself; it fsyncs the file after the line, so the event
    is counted emitted, not dropped."""
    logs = tmp_path / "logs"
    logger = JsonlExecutionLogger(logs, fsync="always", strict=True)
    first, second = pipeline_event(0), pipeline_event(1)
    logger.emit(first)
    real_fsync = os.fsync
    armed = [True]

    def closing_fsync(fd: int) -> None:
        if armed[0]:
            armed[0] = False
            logger.close()
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", closing_fsync)
    logger.emit(second)
    assert (logger.stats.emitted, logger.stats.dropped, logger.stats.errors) == (2, 0, 0)
    assert (logs / "s.jsonl").read_bytes() == encode_event_line(first) + encode_event_line(second)


CLOSE_WITHOUT_DESCRIPTORS = """
import os, resource, sys
from pathlib import Path
from datetime import UTC, datetime
from src.execution.events import ExecutionEvent
from src.execution.telemetry import JsonlExecutionLogger

logs, how = Path(sys.argv[1]), sys.argv[2]
logger = JsonlExecutionLogger(logs)
for n, session in enumerate(["a", "b"]):
    logger.emit(ExecutionEvent(ts=datetime(2025, 1, 1, tzinfo=UTC), session_id=session,
        symbol="BTC-USD", mode="paper", kind="fill", payload={"n": n}, seq=n, mono_ns=n))
fds = sorted(logger._fds.values())
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
fillers = []
if how == "exhausted":  # every number below the limit taken: opening /dev/null fails (EMFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (fds[-1] + 1, hard))
    try:
        while True:
            fillers.append(os.open(os.devnull, os.O_RDONLY))
    except OSError:
        pass
else:  # the limit lowered below the logger's numbers: dup2 into them fails (EBADF)
    resource.setrlimit(resource.RLIMIT_NOFILE, (fds[0], hard))
logger.close()
resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
for fd in fillers:
    os.close(fd)
print(logger.stats.emitted, logger.stats.errors, flush=True)
sys.stdin.readline()  # the logger object (and its reserved numbers) lives until the test says
"""


@pytest.mark.parametrize("how", ["exhausted", "limit_below_the_numbers"])
def test_close_releases_the_locks_even_when_the_stand_in_cannot_be_put_in_place(tmp_path, how):
    """No descriptor left for /dev/null at close (or RLIMIT_NOFILE lowered below the logger's
    numbers): the files stay open under their numbers, but their shared locks are released,
    so retention, in another process, can take the files while the closed logger lives on."""
    logs = tmp_path / "logs"
    root = Path(__file__).resolve().parents[3]
    with subprocess.Popen(
        [sys.executable, "-c", CLOSE_WITHOUT_DESCRIPTORS, str(logs), how],
        cwd=root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        try:
            assert child.stdout is not None and child.stdin is not None
            assert child.stdout.readline().split() == ["2", "0"]
            paths = sorted(logs.glob("*.jsonl"))
            assert [p.name for p in paths] == ["a.jsonl", "b.jsonl"]
            for path in paths:
                probe = os.open(path, os.O_RDONLY)
                try:
                    fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # retention's probe
                finally:
                    os.close(probe)
            child.stdin.write("\n")
            child.stdin.flush()
            assert child.wait(30) == 0
        finally:
            if child.poll() is None:
                child.kill()


# -- the close gate (fsync="always") under signals, repeated close and emits that never finish --


def lines_run_by_an_emit() -> list[tuple[str, int]]:
    """The lines of CloseGate.enter and leave that an emit with fsync="always" runs (a
    signal can arrive before any of them), found by tracing one."""
    codes = {getattr(close_gate.CloseGate, n).__code__: n for n in ("enter", "leave")}
    seen: set[tuple[str, int]] = set()

    def tracer(frame, event, arg):
        name = codes.get(frame.f_code)
        if name is None:
            return None

        def local(frame, event, arg):
            if event == "line":
                seen.add((name, frame.f_lineno))
            return local

        return local

    with tempfile.TemporaryDirectory() as tmp:
        logger = JsonlExecutionLogger(tmp, fsync="always")
        sys.settrace(tracer)
        try:
            logger.emit(pipeline_event(0))
        finally:
            sys.settrace(None)
        logger.close()
    return sorted(seen)


GATE_POINTS = lines_run_by_an_emit()


def act_at(code: object, line: int, action: Callable[[], None]) -> Callable[..., object]:
    """A trace function that runs ``action`` once, on this thread, just before ``line`` of
    ``code`` runs: what a signal handler does between two statements."""
    fired: list[int] = []

    def local(frame, event, arg):
        if event == "line" and frame.f_lineno == line and not fired:
            fired.append(1)
            sys.settrace(None)
            action()
        return local

    def tracer(frame, event, arg):
        return local if frame.f_code is code else None

    return tracer


def on_a_thread(target: Callable[[], None]) -> list[BaseException]:
    """Run ``target`` on a daemon thread; fail (not hang) if it never returns."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "hung"
    return errors


@pytest.mark.parametrize(("name", "line"), GATE_POINTS)
def test_a_keyboard_interrupt_inside_the_gate_never_strands_close(
    tmp_path, monkeypatch, name, line
):
    """A KeyboardInterrupt (a signal) between any two statements of enter/leave: the thread
    it hit is never counted as in flight by its own close(), which returns at once (the
    gate's bound is made huge: returning proves it did not wait), with every line it wrote."""
    monkeypatch.setattr(close_gate, "SHUT_TIMEOUT_S", 3600.0)
    logs = tmp_path / "logs"
    logger = JsonlExecutionLogger(logs, fsync="always")
    first, last = pipeline_event(0), pipeline_event(2)
    logger.emit(first)
    code = getattr(close_gate.CloseGate, name).__code__

    def interrupted_then_close() -> None:
        def interrupt() -> None:
            raise KeyboardInterrupt

        sys.settrace(act_at(code, line, interrupt))
        try:
            logger.emit(pipeline_event(1))
        except KeyboardInterrupt:
            pass
        finally:
            sys.settrace(None)
        logger.emit(last)
        logger.close()

    assert on_a_thread(interrupted_then_close) == []
    assert logger.closed
    lines = (logs / "s.jsonl").read_bytes().splitlines(keepends=True)
    assert lines[0] == encode_event_line(first) and lines[-1] == encode_event_line(last)


@pytest.mark.parametrize("what", ["emit", "close"])
@pytest.mark.parametrize(("name", "line"), GATE_POINTS)
def test_a_signal_handler_that_emits_or_closes_inside_the_gate_does_not_deadlock(
    tmp_path, name, line, what
):
    """A signal handler runs between two statements of enter/leave (holding the gate's lock,
    maybe) and emits or closes: neither waits for its own thread, nothing is lost or raised."""
    logs = tmp_path / "logs"
    logger = JsonlExecutionLogger(logs, fsync="always", strict=True)
    logger.emit(pipeline_event(0))
    code = getattr(close_gate.CloseGate, name).__code__

    ran: list[str] = []

    def handler() -> None:
        ran.append(what)
        if what == "emit":
            logger.emit(pipeline_event(2))
        else:
            logger.close()

    def main() -> None:
        sys.settrace(act_at(code, line, handler))
        try:
            logger.emit(pipeline_event(1))
        finally:
            sys.settrace(None)
        logger.close()

    assert on_a_thread(main) == [] and ran == [what]
    stats = logger.stats
    assert stats.errors == 0 and stats.emitted + stats.dropped == (3 if what == "emit" else 2)
    assert (logs / "s.jsonl").read_bytes().count(b"\n") == stats.emitted


def stuck_in_fsync(monkeypatch, logger: JsonlExecutionLogger) -> tuple[Pause, list[str]]:
    """An emit on another thread that has written its line and waits in its fsync (until
    released); returns the pause and the order in which things finished."""
    pause = Pause()
    real_fsync = os.fsync
    order: list[str] = []

    def pausing_fsync(fd: int) -> None:
        pause()
        if threading.current_thread() is pause.thread:
            order.append("emit fsynced")
        try:
            real_fsync(fd)
        except OSError:
            if threading.current_thread() is not pause.thread:
                raise

    monkeypatch.setattr(os, "fsync", pausing_fsync)
    pause.run(lambda: logger.emit(pipeline_event(1)))
    return pause, order


def test_a_second_close_waits_for_the_first_one_at_the_gate(tmp_path, monkeypatch):
    """close() on thread B waits at the gate for an emit between write and fsync; close() on
    thread C meanwhile must not return first (its caller would take the logger for closed
    and its events for durable)."""
    logger = JsonlExecutionLogger(tmp_path / "logs", fsync="always")
    logger.emit(pipeline_event(0))
    pause, order = stuck_in_fsync(monkeypatch, logger)
    first = threading.Thread(target=lambda: (logger.close(), order.append("first close")))
    first.start()
    wait_until_close_blocks_or_returns(logger, first)
    second = threading.Thread(target=lambda: (logger.close(), order.append("second close")))
    second.start()
    second.join(1)  # a second close that does not wait returns here (the bug)
    pause.release.set()
    for thread in (pause.thread, first, second):
        assert thread is not None
        thread.join(30)
        assert not thread.is_alive()
    assert order[0] == "emit fsynced" and set(order[1:]) == {"first close", "second close"}
    assert logger.health()["unconfirmed_at_close"] == 0
    assert (logger.stats.emitted, logger.stats.dropped) == (2, 0)


def test_close_waits_for_an_emit_that_never_finishes_only_so_long(tmp_path, monkeypatch):
    """An emit stuck between its write and its fsync (a hung disk): close() gives up after the
    gate's bound, lets go of the files and counts that emit as not confirmed durable; the
    heartbeat's and health()'s counters say so."""
    monkeypatch.setattr(close_gate, "SHUT_TIMEOUT_S", 0.2)
    logs = tmp_path / "logs"
    logger = JsonlExecutionLogger(logs, fsync="always", heartbeat_interval=3600)
    logger.emit(pipeline_event(0))
    pause, _order = stuck_in_fsync(monkeypatch, logger)
    try:
        assert on_a_thread(logger.close) == []
        assert logger.closed and logger.open_sessions() == []
        assert logger.health()["unconfirmed_at_close"] == 1
        assert logger._heartbeat_counters()["unconfirmed_at_close"] == 1
        assert files_open_under(logs) == []
    finally:
        pause.release.set()
        assert pause.thread is not None
        pause.thread.join(30)
    assert not pause.thread.is_alive()
