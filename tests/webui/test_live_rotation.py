"""The live feed follows a session across retention compressing its file, and caps the
backlog a reconnecting client can ask for."""

from __future__ import annotations

import gzip
import json
import os
import threading
import time
from datetime import UTC, datetime

import httpx2 as httpx
import pytest

from src.execution.events import ExecutionEvent
from src.execution.telemetry.jsonl import JsonlExecutionLogger
from src.ops.retention.policy import RetentionPolicy
from src.ops.retention.run import run_retention
from src.webui.live import MAX_BACKLOG_BYTES, encode_position


def event(seq: int) -> ExecutionEvent:
    return ExecutionEvent(
        ts=datetime.now(UTC),
        session_id="watch",
        symbol="BTC-USD",
        mode="paper",
        kind="fill",
        payload={"filled_quantity": 1.0, "fill_price": 1.0, "fill_fee": 0.0, "n": seq},
        seq=seq,
    )


class Listener:
    """A real SSE client in a thread, collecting every event's ``seq``."""

    def __init__(self, url: str, last: int) -> None:
        self.seqs: list[int] = []
        self.events: list[str] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, args=(url, last), daemon=True)
        self.thread.start()

    def _run(self, url: str, last: int) -> None:
        with httpx.stream("GET", url, timeout=60) as r:
            name = ""
            for line in r.iter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                    with self.lock:
                        self.events.append(name)
                elif line.startswith("data: ") and name == "event":
                    seq = json.loads(line[6:])["seq"]
                    with self.lock:
                        self.seqs.append(seq)
                    if seq == last:  # disconnect: the server can then stop at once
                        return

    def after(self, first: int) -> list[int]:
        with self.lock:
            return [seq for seq in self.seqs if seq >= first]

    def wait_for(self, count: int, deadline: float, first: int = 0) -> bool:
        """True once ``count`` events with ``seq >= first`` arrived (False at ``deadline``)."""
        while time.monotonic() < deadline:
            if len(self.after(first)) >= count:
                return True
            time.sleep(0.02)
        return False


def test_feed_continues_after_retention_compresses_the_watched_file(server, logs):
    with JsonlExecutionLogger(logs) as logger:
        for seq in range(1, 11):
            logger.emit(event(seq))
    listener = Listener(f"{server}/api/live/execution/watch/stream", last=2999)
    deadline = time.monotonic() + 60
    # The first event to arrive after connecting tells the feed has taken its position.
    with JsonlExecutionLogger(logs) as logger:
        probe = 11
        while not listener.wait_for(1, min(deadline, time.monotonic() + 0.5)):
            logger.emit(event(probe))
            probe += 1
            assert time.monotonic() < deadline, "the feed never started"
    # Retention compresses the (idle, old-looking) session file away...
    old = time.time() - 10 * 86_400
    os.utime(logs / "watch.jsonl", (old, old))
    policy = RetentionPolicy(keep_last_n=0, compress_after_days=1)
    run_retention(logs, policy, apply=True)
    assert (logs / "watch.jsonl.gz").exists() and not (logs / "watch.jsonl").exists()
    # ...and a logger starts a new file: every one of 2,000 events arrives.
    with JsonlExecutionLogger(logs) as logger:
        for burst in range(10):
            for k in range(200):
                logger.emit(event(1000 + burst * 200 + k))
            arrived = listener.wait_for((burst + 1) * 200, deadline, first=1000)
            assert arrived, listener.after(1000)[-3:]
    assert listener.after(1000) == list(range(1000, 3000))
    listener.thread.join(10)


def test_a_reconnect_too_far_behind_is_told_to_reload(server, logs):
    """A `since` more than MAX_BACKLOG_BYTES back gets a `reload` event, not the backlog;
    one within it gets the missed events."""
    path = logs / "watch.jsonl"
    with JsonlExecutionLogger(logs) as logger:
        logger.emit(event(1))
        near = path.stat().st_size
        seq = 2
        while path.stat().st_size - near <= MAX_BACKLOG_BYTES:
            logger.emit(event(seq))
            seq += 1

    def first_event(since: str) -> tuple[str, str]:
        url = f"{server}/api/live/execution/watch/stream"
        with httpx.stream("GET", url, params={"since": since}, timeout=10) as r:
            name = ""
            for line in r.iter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    return name, line[6:]
        return "", ""

    name, data = first_event(encode_position("watch.jsonl", near))
    assert name == "reload"
    assert json.loads(data) == {"max_backlog_bytes": MAX_BACKLOG_BYTES}
    recent = path.stat().st_size - 3 * (path.stat().st_size - near) // seq
    lines = path.read_bytes()[:recent]
    start = lines.rfind(b"\n") + 1
    name, data = first_event(encode_position("watch.jsonl", start))
    assert name == "event" and json.loads(data)["seq"] >= seq - 5


def test_feeds_close_the_file_they_follow(tmp_path):
    """Clients coming and going leave no descriptor behind (the feed keeps its file open
    while anyone watches)."""
    import asyncio

    from src.webui.live import FeedHub

    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    async def scenario() -> tuple[int, int, int]:
        (tmp_path / "s.jsonl").write_text("")
        hub = FeedHub(tmp_path, poll_interval=0.005, queue_size=10)
        before = open_fds()
        watching = 0
        for _ in range(20):
            sub = await hub.subscribe("s")
            await asyncio.sleep(0.01)
            watching = max(watching, open_fds() - before)
            hub.unsubscribe(sub)
        for _ in range(100):  # cancelled pollers finish their last read, then close
            await asyncio.sleep(0.01)
            if open_fds() == before:
                break
        after = open_fds()
        await hub.close()
        return before, after, watching

    before, after, watching = asyncio.run(scenario())
    assert watching >= 1
    assert after == before


def test_a_reconnect_after_rotation_gets_the_rest_of_its_file_then_the_new_one(server, logs):
    """`since` in a file two days old: the client gets that file's rest, the whole day in
    between (it was skipped) and today's lines up to where the feed started; a position in
    a file compressed since means reload."""
    old, mid = logs / "2025-12-20" / "rot.jsonl", logs / "2025-12-21" / "rot.jsonl"
    new = logs / "2025-12-22" / "rot.jsonl"
    for path in (old, mid, new):
        path.parent.mkdir()

    def line(seq: int) -> str:
        return json.dumps(
            {"ts": "2025-12-20T10:00:00Z", "session_id": "rot", "kind": "fill", "seq": seq}
        )

    old.write_text(line(1) + "\n")
    seen = old.stat().st_size
    with old.open("a") as fh:
        fh.write(line(2) + "\n" + line(3) + "\n")
    mid.write_text(line(4) + "\n")
    new.write_text(line(5) + "\n" + line(6) + "\n")

    def first_events(since: str, count: int) -> list[tuple[str, dict]]:
        url = f"{server}/api/live/execution/rot/stream"
        got: list[tuple[str, dict]] = []
        with httpx.stream("GET", url, params={"since": since}, timeout=10) as r:
            name = ""
            for text in r.iter_lines():
                if text.startswith("event: "):
                    name = text[7:]
                elif text.startswith("data: "):
                    got.append((name, json.loads(text[6:])))
                    if len(got) == count or name == "reload":
                        return got
        return got

    got = first_events(encode_position("2025-12-20/rot.jsonl", seen), 5)
    assert [(name, row["seq"]) for name, row in got] == [("event", n) for n in (2, 3, 4, 5, 6)]
    got = first_events(encode_position("2025-12-19/rot.jsonl.gz", 10), 1)
    assert [name for name, _ in got] == ["reload"]


@pytest.mark.parametrize("compressed", [False, True], ids=["rotated", "rotated+compressed"])
def test_a_feed_behind_several_daily_files_reads_each_in_turn(tmp_path, compressed):
    """Two days rolled over between two polls (and the followed file compressed, or not):
    the feed reads the rest of its file, then each newer file in order (it jumped to the
    newest and lost the day in between)."""
    import asyncio

    from src.webui.live import FeedHub

    days = [tmp_path / f"2026-01-0{d}" / "watch.jsonl" for d in (1, 2, 3)]

    def put(path, *seqs: int) -> None:
        path.parent.mkdir(exist_ok=True)
        with path.open("a") as fh:
            fh.write("".join(json.dumps(event(seq).to_dict(), default=str) + "\n" for seq in seqs))

    async def scenario() -> list[int]:
        put(days[0], 0)
        hub = FeedHub(tmp_path, poll_interval=1.0, queue_size=100)
        sub = await hub.subscribe("watch")
        # All of this well before the feed's first poll (1 s).
        put(days[0], 1, 2)
        put(days[1], 3, 4, 5)
        if compressed:
            days[0].with_suffix(".jsonl.gz").write_bytes(gzip.compress(days[0].read_bytes()))
            days[0].unlink()
        put(days[2], 6, 7, 8)
        seqs: list[int] = []
        try:
            while len(seqs) < 8:
                row = await asyncio.wait_for(sub.queue.get(), timeout=10)
                seqs.append(row["seq"])
        except TimeoutError:
            pass
        await hub.close()
        return seqs

    assert asyncio.run(scenario()) == list(range(1, 9))


@pytest.mark.parametrize("grow", [0, 3], ids=["same-size", "longer"])
def test_a_file_truncated_and_written_again_is_followed_from_its_start(tmp_path, grow):
    """Truncated in place and written again between two polls, to its old size or past
    it: the feed sends the new content from its start (it read on from the old offset:
    nothing, or the tail of a line and what followed)."""
    import asyncio

    from src.webui.live import FeedHub

    path = tmp_path / "watch.jsonl"

    def lines(*seqs: int) -> str:
        return "".join(json.dumps(event(seq).to_dict(), default=str) + "\n" for seq in seqs)

    path.write_text(lines(10, 11, 12))

    async def scenario() -> list[int]:
        hub = FeedHub(tmp_path, poll_interval=1.0, queue_size=100)
        sub = await hub.subscribe("watch")
        with path.open("r+") as fh:  # well before the first poll (1 s)
            fh.truncate(0)
            fh.write(lines(20, 21, 22, *range(23, 23 + grow)))
        seqs: list[int] = []
        try:
            while len(seqs) < 3 + grow:
                seqs.append((await asyncio.wait_for(sub.queue.get(), timeout=10))["seq"])
        except TimeoutError:
            pass
        await hub.close()
        return seqs

    assert asyncio.run(scenario()) == list(range(20, 23 + grow))
