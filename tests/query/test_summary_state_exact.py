"""Saved summary state is exact: saved + resumed equals one pass over the whole session.

Arbitrary sessions are revealed a piece at a time (cut anywhere, torn lines included); in
between, files rotate (a new day's file), are compressed the way retention does it, or are
rewritten. After each piece every reader that resumes from the saved state (the engine's
``summarize``, a new ``IncrementalSummary``, one that lived through all the pieces) must
give exactly what one pass over the files gives, torn last lines of older, rotated and
compressed files included (an incremental summary leaves out only the newest plain file's
torn line: a line still being written, read once complete).
"""

from __future__ import annotations

import gzip
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from src.query import incremental, parallel, saved_scan, summary_state
from src.query.analytics import pairing_ids
from src.query.analytics.summary import SummaryBuilder
from src.query.analytics.timestamps import DEFAULT_GAP_THRESHOLD_S
from src.query.engine import summarize
from src.query.files import session_files
from src.query.filters import EventFilter
from src.query.incremental import IncrementalSummary
from src.query.summary_state import with_torn
from tests.query.builder_state import builder_state, one_pass_state
from tests.query.event_streams import START, event_lines, stamped

AS_OF = START.timestamp() + 3600
# Another instant for the reads answered from saved state: before, between and after the
# orders' deadlines (end of day included), so every field measured at as_of is checked.
LATER = st.sampled_from([0.05, 1, 45, 700, 3600, 3601, 86_400 + 1, 10**6]).map(
    lambda s: START.timestamp() + s
)
FLT = EventFilter.build(session_id="s")

ACTION = st.sampled_from(["append", "append", "append", "rotate", "compress", "rewrite"])
STEP = st.tuples(st.integers(1, 4000), ACTION)  # (bytes revealed, what happens first)


class Session:
    """Session ``s`` under ``base`` as day files; the newest plain file grows."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.files: list[Path] = []

    def _new_file(self) -> Path:
        day = self.base / f"2025-06-{len(self.files) + 1:02d}"
        day.mkdir(parents=True, exist_ok=True)
        path = day / "s.jsonl"
        path.touch()
        self.files.append(path)
        return path

    def append(self, data: bytes) -> None:
        if not self.files or self.files[-1].name.endswith(".gz"):
            self._new_file()
        with self.files[-1].open("ab") as fh:
            fh.write(data)

    def rotate(self) -> None:
        self._new_file()

    def compress(self) -> None:
        """Compress the oldest plain file as retention does (the states follow it)."""
        plain = [i for i, p in enumerate(self.files) if not p.name.endswith(".gz")]
        if not plain:
            return
        i = plain[0]
        path = self.files[i]
        gz = path.with_name(path.name + ".gz")
        gz.write_bytes(gzip.compress(path.read_bytes()))
        rel = path.relative_to(self.base).as_posix()
        plain_fd = os.open(path, os.O_RDONLY)
        gz_fd = os.open(gz, os.O_RDONLY)
        try:
            summary_state.file_compressed(self.base, rel, plain_fd, rel + ".gz", gz_fd)
        finally:
            os.close(plain_fd)
            os.close(gz_fd)
        path.unlink()
        self.files[i] = gz

    @staticmethod
    def listed(base: Path) -> list[Path]:
        found = session_files(base, "s")
        return list(found.files) if found else []

    def rewrite(self) -> None:
        """Rewrite the newest plain file in place: its lines in reverse order."""
        plain = [p for p in self.files if not p.name.endswith(".gz")]
        if not plain:
            return
        path = plain[-1]
        lines = path.read_bytes().split(b"\n")
        with path.open("r+b") as fh:
            fh.write(b"\n".join(reversed(lines)))


def _incremental(base: Path, *, persist: bool, as_of: float = AS_OF) -> dict:
    inc = IncrementalSummary(base, "s", max_age_s=0, persist=persist)
    return inc.refresh(as_of=as_of).to_dict()


def _one_pass(base: Path, as_of: float) -> tuple[dict, dict]:
    """(one pass over the session, what a follower of it gives: the same but for the
    newest plain file's torn last line, still being written)."""
    one = summarize(base, FLT, as_of=as_of, saved_state=False, workers=1)
    files = Session.listed(base)
    newest = files[-1] if files else None
    being_written = (
        newest is not None
        and not newest.name.endswith(".gz")
        and newest.stat().st_size > 0
        and not newest.read_bytes().endswith(b"\n")
    )
    return one.to_dict(), with_torn(one, -1 if being_written else 0).to_dict()


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(event_lines(), st.booleans(), st.lists(STEP, min_size=1, max_size=8), LATER)
def test_resumed_summaries_equal_one_pass(tmp_path_factory, lines, torn, steps, later):
    base = tmp_path_factory.mktemp("state")
    body = b"".join(line + b"\n" for line in stamped(lines))
    if torn:
        body += b'{"ts": "2025-06-01T00:00:00Z", "ki'
    session = Session(base)
    lived = IncrementalSummary(base, "s", max_age_s=0)
    done = 0
    for size, action in steps:
        if action == "rotate":
            session.rotate()
        elif action == "compress":
            session.compress()
        elif action == "rewrite":
            session.rewrite()
        session.append(body[done : done + size])
        done += size
        one_pass, followed = _one_pass(base, AS_OF)
        assert summarize(base, FLT, as_of=AS_OF).to_dict() == one_pass
        assert summarize(base, FLT, as_of=AS_OF).to_dict() == one_pass  # from its own state
        assert _incremental(base, persist=False) == followed
        assert _incremental(base, persist=True) == followed
        assert lived.refresh(as_of=AS_OF).to_dict() == followed
        # The CLI resumes from the incremental readers' state, and they from the CLI's.
        assert summarize(base, FLT, as_of=AS_OF).to_dict() == one_pass
        # At another instant, from the state saved at AS_OF (and between two refreshes).
        fresh, followed = _one_pass(base, later)
        assert summarize(base, FLT, as_of=later).to_dict() == fresh
        assert _incremental(base, persist=False, as_of=later) == followed
        assert _incremental(base, persist=True, as_of=later) == followed
        assert lived.refresh(as_of=later).to_dict() == followed
    assert (base / summary_state.STATE_DIR).is_dir()
    shutil.rmtree(base)


@st.composite
def long_trips(draw: st.DrawFn) -> list[bytes]:
    """Round trips with their own ids whose acks, fills and cancels come any time later:
    orders in flight across a range cut, while later trips complete on either side."""
    keyed = []
    for n in range(draw(st.integers(0, 40))):
        at = draw(st.integers(0, 300))
        cid, iid = f"c{n}", f"i{n}"
        keyed.append((at, "intent", {"intent_id": iid, "side": "buy", "current_price": 100}))
        at += draw(st.integers(0, 20))
        keyed.append((at, "order", {"intent_id": iid, "client_id": cid, "quantity": 1}))
        for kind in draw(st.lists(st.sampled_from(["ack", "fill", "cancel"]), max_size=2)):
            payload = {"client_id": cid, "filled_quantity": 1, "fill_price": 100 + n % 3}
            keyed.append((at + draw(st.integers(0, 80)), kind, payload | {"n": n}))
    keyed.sort(key=lambda k: k[0])
    out = []
    for number, (_, kind, payload) in enumerate(keyed):
        event = {"kind": kind, "payload": payload, "step": draw(st.sampled_from([0, 1, 30]))}
        event |= {"session_id": "s", "symbol": "BTC-USD", "event_id": f"t{number}", "mono_ns": 0}
        out.append(orjson.dumps(event))
    return out


def _saved_builder_state(base: Path) -> tuple[dict, dict] | None:
    """(the saved builder's state, one pass's over what it covers), if a state holds."""
    store = summary_state.StateStore(base, "s", SummaryBuilder())
    saved = store.load()
    paths = [p for p in Session.listed(base)]
    if saved is None or not store.holds(saved, paths):
        return None
    state = saved.state()
    assert state is not None
    return builder_state(state[0]), one_pass_state(base, saved.marks, DEFAULT_GAP_THRESHOLD_S)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    event_lines(),
    long_trips(),
    st.booleans(),
    st.lists(st.tuples(st.integers(1, 30_000), ACTION), min_size=1, max_size=6),
    st.sampled_from([2, 3, 8]),
)
def test_a_shared_first_read_saves_one_pass_state(
    tmp_path_factory, monkeypatch, lines, trips, torn, steps, workers
):
    """A first read (or a rebuild) on several processes saves exactly one pass's state,
    samples in file order included; appended lines then resume from it as from one pass's."""
    lines = trips + lines
    monkeypatch.setattr(parallel, "MIN_PARALLEL_BYTES", 0)
    shared = []
    real = saved_scan.scan_ordered

    def spy(*args, **kwargs):
        done = real(*args, **kwargs)
        shared.append(done is not None)
        return done

    monkeypatch.setattr(saved_scan, "scan_ordered", spy)
    base = tmp_path_factory.mktemp("shared")
    body = b"".join(line + b"\n" for line in stamped(lines))
    if torn:
        body += b'{"ts": "2025-06-01T00:00:00Z", "ki'
    session = Session(base)
    done = 0
    for size, action in steps:
        if action == "rotate":
            session.rotate()
        elif action == "compress":
            session.compress()
        elif action == "rewrite":
            session.rewrite()
        session.append(body[done : done + size])
        done += size
        one_pass = summarize(base, FLT, as_of=AS_OF, saved_state=False, workers=1).to_dict()
        assert summarize(base, FLT, as_of=AS_OF, workers=workers).to_dict() == one_pass
        states = _saved_builder_state(base)
        if states is not None:
            assert states[0] == states[1]
        assert summarize(base, FLT, as_of=AS_OF, workers=workers).to_dict() == one_pass
    note(f"shared reads: {shared}")
    shutil.rmtree(base)


def test_a_shared_first_read_is_used_and_keeps_sample_order(tmp_path, monkeypatch):
    """Round trips in flight across the cut (their samples are added when the parts are
    merged) land where one pass puts them; the shared read is really taken."""
    monkeypatch.setattr(parallel, "MIN_PARALLEL_BYTES", 0)
    shared = []
    real = saved_scan.scan_ordered
    monkeypatch.setattr(
        saved_scan, "scan_ordered", lambda *a, **k: shared.append(real(*a, **k)) or shared[-1]
    )
    lines = []
    for n in range(400):  # round trips; every 10th order is filled 25 trips later
        lines.append(_event("intent", n, {"intent_id": f"i{n}", "current_price": 100.0}))
        lines.append(_event("order", n, {"intent_id": f"i{n}", "client_id": f"c{n}"}))
        late = n - 25
        if n % 10:
            lines.append(_event("fill", n, {"client_id": f"c{n}", "fill_price": 100.0 + n % 7}))
        if late >= 0 and late % 10 == 0:
            lines.append(_event("fill", n, {"client_id": f"c{late}", "fill_price": 99.0}))
    session = Session(tmp_path)
    session.append(b"".join(line + b"\n" for line in lines))
    first = summarize(tmp_path, FLT, as_of=AS_OF, workers=2).to_dict()
    assert shared and shared[0] is not None
    assert first == summarize(tmp_path, FLT, as_of=AS_OF, saved_state=False, workers=1).to_dict()
    states = _saved_builder_state(tmp_path)
    assert states is not None
    assert states[0] == states[1]
    assert states[0]["samples"]["order_to_fill"] != sorted(states[0]["samples"]["order_to_fill"])


def _event(kind: str, n: int, payload: dict) -> bytes:
    ts = START.timestamp() + n * 0.01 + {"intent": 0, "order": 0.001, "fill": 0.002}[kind]
    payload = {"side": "buy", "quantity": 1, "filled_quantity": 1, "symbol": "X", **payload}
    return orjson.dumps(
        {
            "ts": datetime.fromtimestamp(ts, UTC).isoformat(),
            "kind": kind,
            "session_id": "s",
            "symbol": "X",
            "event_id": f"{kind}{n}-{payload.get('client_id')}",
            "mono_ns": int(ts * 1e9) + (n % 5) * 1_000_000,
            "payload": payload,
        }
    )


# Ids equal as Python keys though typed apart (1 == 1.0 == True, 0 == -0.0 == False), and
# near misses: a resumed state looks them up in its id indexes (pairing_ids) as a set would.
KEYS = st.sampled_from([1, 1.0, True, "1", 2, 2.0, 0, -0.0, False, "a", "b", 2.5])


@st.composite
def colliding_trips(draw: st.DrawFn) -> list[bytes]:
    """Round trips with few, colliding ids of every scalar type: fills repeated under one
    event id, fills and cancels for orders already filled, ids placed again once filled."""
    out = []
    for _ in range(draw(st.integers(1, 30))):
        cid, iid = draw(KEYS), draw(KEYS)
        trip = [
            ("intent", {"intent_id": iid, "side": "buy", "current_price": 100}),
            ("order", {"intent_id": iid, "client_id": cid, "quantity": 1}),
        ]
        for kind in draw(st.lists(st.sampled_from(["fill", "fill", "cancel", "ack"]), max_size=3)):
            payload = {"client_id": cid if draw(st.integers(0, 3)) else draw(KEYS)}
            payload |= {"filled_quantity": 1, "fill_price": 100.5, "intent_id": iid}
            event = {"kind": kind, "payload": payload}
            if kind == "fill" and draw(st.integers(0, 4)):
                event["event_id"] = draw(KEYS)
            trip.append(event if kind == "fill" else (kind, payload))
        for item in trip:
            event = item if isinstance(item, dict) else {"kind": item[0], "payload": item[1]}
            event |= {"session_id": draw(st.sampled_from(["s", "s", 1, 1.0])), "symbol": "X"}
            event |= {"step": draw(st.sampled_from([0, 1, 30])), "mono_ns": 0}
            out.append(orjson.dumps(event))
    return out


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    colliding_trips(),
    st.lists(st.tuples(st.integers(1, 3000), st.sampled_from(["append", "rotate"])), max_size=6),
)
def test_ids_looked_up_in_a_saved_state_are_a_sets(tmp_path_factory, monkeypatch, lines, steps):
    """Cut anywhere, saved and resumed again and again (a running reader saving on every
    refresh too): the same summary and the same builder state as one pass."""
    monkeypatch.setattr(incremental, "SAVE_EVERY_S", 0.0)
    monkeypatch.setattr(pairing_ids, "LOAD", 1)  # many buckets: ids land apart by hash
    base = tmp_path_factory.mktemp("ids")
    body = b"".join(line + b"\n" for line in stamped(lines))
    session = Session(base)
    lived = IncrementalSummary(base, "s", max_age_s=0)
    done = 0
    for size, action in [*steps, (len(body), "append")]:
        if action == "rotate":
            session.rotate()
        session.append(body[done : done + size])
        done += size
        one_pass = summarize(base, FLT, as_of=AS_OF, saved_state=False, workers=1).to_dict()
        assert summarize(base, FLT, as_of=AS_OF).to_dict() == one_pass
        states = _saved_builder_state(base)
        if states is not None:
            assert states[0] == states[1]
        followed = _incremental(base, persist=False)  # complete lines only: no torn one
        assert _incremental(base, persist=True) == followed
        assert lived.refresh(as_of=AS_OF).to_dict() == followed
    shutil.rmtree(base)
