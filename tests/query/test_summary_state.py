"""Saved summary state: resumed when the files still hold, ignored (and rebuilt) otherwise.

Which lines a summary read is seen through its progress callback (lines read so far) and
through ``IncrementalSummary.resumed``; what it gives is always compared with one pass.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys

import msgspec
import pytest

from src.query import state_file, summary_state
from src.query.analytics.pairing_model import COMPLETED
from src.query.analytics.summary import SummaryBuilder
from src.query.engine import summarize
from src.query.filters import EventFilter
from src.query.incremental import IncrementalSummary
from tests.query.event_streams import START, stamped

AS_OF = START.timestamp() + 3600
FLT = EventFilter.build(session_id="s")


def lines(n: int, start: int = 0) -> bytes:
    out = []
    for i in range(start, start + n):
        kind = ("intent", "gate", "order", "fill")[i % 4]
        out.append(
            msgspec.json.encode(
                {
                    "kind": kind,
                    "step": 5,
                    "session_id": "s",
                    "symbol": "BTC-USD",
                    "mono_ns": 0,
                    "payload": {
                        "intent_id": f"i{i // 4}",
                        "client_id": f"c{i // 4}",
                        "gate_name": "G",
                        "passed": True,
                        "side": "buy",
                        "current_price": 100.0,
                        "quantity": 1,
                        "filled_quantity": 1,
                        "fill_price": 100.1,
                    },
                    **({"event_id": f"f{i}"} if kind == "fill" else {}),
                }
            )
        )
    return b"".join(line + b"\n" for line in stamped(out))


def read(base, **kw):
    """(summary, lines read) of a summarize call."""
    seen = [0]

    def progress(done: int, total: int, lines_read: int) -> None:
        seen[0] = max(seen[0], lines_read)

    got = summarize(base, FLT, as_of=AS_OF, progress=progress, **kw)
    return got, seen[0]


def one_pass(base):
    return summarize(base, FLT, as_of=AS_OF, saved_state=False, workers=1)


def state_files(base):
    d = base / summary_state.STATE_DIR
    return sorted(p for p in d.iterdir() if p.suffix == ".state") if d.is_dir() else []


def test_an_unchanged_session_is_answered_from_its_state(tmp_path):
    (tmp_path / "s.jsonl").write_bytes(lines(400) + b'{"torn')
    first, read_first = read(tmp_path)
    again, read_again = read(tmp_path)
    assert read_first == 400 and read_again == 0  # complete lines read (the torn one is counted)
    assert first == again == one_pass(tmp_path)
    assert again.parse.torn_lines == 1 and len(state_files(tmp_path)) == 1


def test_only_appended_lines_are_read(tmp_path):
    path = tmp_path / "s.jsonl"
    body = lines(1000)
    path.write_bytes(body[:5000])  # cut inside a line
    read(tmp_path)
    path.write_bytes(body)
    got, read_now = read(tmp_path)
    assert got == one_pass(tmp_path)
    assert read_now < 1000 - 5000 // len(body.splitlines()[0]) + 30  # the new lines only
    day = tmp_path / "2099-01-01"  # a new day's file (sorting after the first): read alone
    day.mkdir()
    (day / "s.jsonl").write_bytes(lines(10, 1000))
    got, read_now = read(tmp_path)
    assert read_now == 10 and got == one_pass(tmp_path)


@pytest.mark.parametrize("change", ["rewritten", "replaced", "truncated", "older file"])
def test_a_state_is_not_trusted_once_its_file_changed(tmp_path, change):
    path = tmp_path / "s.jsonl"
    path.write_bytes(lines(200))
    read(tmp_path)
    if change == "rewritten":  # same inode, same size, other bytes
        data = bytearray(path.read_bytes())
        data[-60:-50] = b"0123456789"
        with path.open("r+b") as fh:
            fh.write(bytes(data))
    elif change == "replaced":  # another inode, same bytes
        path.with_name("new").write_bytes(path.read_bytes())
        os.replace(path.with_name("new"), path)
    elif change == "truncated":
        os.truncate(path, 4000)
    else:  # a file that sorts before the one read
        day = tmp_path / "2025-05-31"
        day.mkdir()
        (day / "s.jsonl").write_bytes(lines(3, 500))
    got, read_now = read(tmp_path)
    assert got == one_pass(tmp_path)
    assert read_now == got.parse.total_lines - got.parse.torn_lines  # all of it, again


@pytest.mark.parametrize(
    "damage",
    [
        "empty",
        "short",
        "garbage",
        "blob flipped",
        "blob bit 0",
        "blob bit 1/2",
        "blob bit 9/10",
        "other code",
        "format 2",
        "format 3",
    ],
)
def test_a_damaged_or_foreign_state_is_ignored_and_rebuilt(tmp_path, damage):
    (tmp_path / "s.jsonl").write_bytes(lines(200))
    read(tmp_path)
    (state,) = state_files(tmp_path)
    data = state.read_bytes()
    if damage == "empty":
        data = b""
    elif damage == "short":
        data = data[: len(data) // 2]
    elif damage == "garbage":
        data = os.urandom(len(data))
    elif damage.startswith("blob"):  # found when the saved builder is needed: on an append
        if damage == "blob flipped":
            data = data[:-10] + bytes(b ^ 0xFF for b in data[-10:])
        else:  # one bit anywhere in the blob: the CRC-32 catches every single-bit error
            head, blob = state_file.split(data)
            num, den = (int(x) for x in (damage.split()[-1] + "/1").split("/")[:2])
            at = len(data) - len(blob) + len(blob) * num // den
            data = data[:at] + bytes([data[at] ^ 0x10]) + data[at + 1 :]
        with (tmp_path / "s.jsonl").open("ab") as fh:
            fh.write(lines(4, 200))
    else:  # saved by another version of the code, or in another format
        head, blob = state_file.split(data)
        header = msgspec.msgpack.decode(head, type=state_file.Header)
        if damage.startswith("format"):  # 3: the ids as sets, not indexes
            header = msgspec.structs.replace(header, format=int(damage.split()[1]))
        else:
            header = msgspec.structs.replace(header, code="0" * 32)
        data = state_file.pack(header) + blob
    state.write_bytes(data)
    got, read_now = read(tmp_path)
    assert got == one_pass(tmp_path) and read_now == got.parse.total_lines
    assert read(tmp_path)[1] == 0  # rebuilt and saved again


def test_states_are_never_read_or_written_through_a_symlink(tmp_path):
    logs, elsewhere = tmp_path / "logs", tmp_path / "elsewhere"
    logs.mkdir()
    (logs / "s.jsonl").write_bytes(lines(100))
    read(logs)
    os.rename(logs / summary_state.STATE_DIR, elsewhere)  # a valid state, outside the root
    os.symlink(elsewhere, logs / summary_state.STATE_DIR)
    before = sorted(elsewhere.iterdir())
    got, read_now = read(logs)
    assert read_now == 100 and got == one_pass(logs)
    assert sorted(elsewhere.iterdir()) == before  # nothing written there either
    os.unlink(logs / summary_state.STATE_DIR)
    (logs / summary_state.STATE_DIR).mkdir()
    (state,) = (p for p in before if p.suffix == ".state")
    os.symlink(state, logs / summary_state.STATE_DIR / state.name)  # the file itself a link
    assert read(logs)[1] == 100


def test_a_root_where_no_state_can_be_written_is_still_summarised(tmp_path):
    (tmp_path / "s.jsonl").write_bytes(lines(100))
    (tmp_path / summary_state.STATE_DIR).write_bytes(b"in the way")  # not a directory
    for _ in range(2):
        got, read_now = read(tmp_path)
        assert read_now == 100 and got == one_pass(tmp_path)


def test_a_compressed_file_keeps_its_state_and_a_deleted_one_drops_it(tmp_path):
    day = tmp_path / "2025-06-01"
    day.mkdir()
    path = day / "s.jsonl"
    path.write_bytes(lines(100) + b'{"torn')
    read(tmp_path)
    gz = day / "s.jsonl.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    fds = os.open(path, os.O_RDONLY), os.open(gz, os.O_RDONLY)
    try:
        kept = summary_state.file_compressed(
            tmp_path, "2025-06-01/s.jsonl", fds[0], "2025-06-01/s.jsonl.gz", fds[1]
        )
    finally:
        for fd in fds:
            os.close(fd)
    path.unlink()
    got, read_now = read(tmp_path)
    assert kept == 1 and read_now == 0 and got == one_pass(tmp_path)
    assert summary_state.file_removed(tmp_path, "2025-06-01/s.jsonl.gz") == 1
    assert state_files(tmp_path) == []


def test_a_new_incremental_summary_resumes_where_another_saved(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_bytes(lines(300))
    first = IncrementalSummary(tmp_path, "s", max_age_s=0)
    expected = first.refresh(as_of=AS_OF)
    second = IncrementalSummary(tmp_path, "s", max_age_s=0)
    assert second.refresh(as_of=AS_OF) == expected and second.resumed
    with path.open("ab") as fh:
        fh.write(lines(20, 300))
    fresh = IncrementalSummary(tmp_path, "s", max_age_s=0, persist=False)
    assert second.refresh(as_of=AS_OF) == fresh.refresh(as_of=AS_OF)
    assert second.samples() == fresh.samples()  # chart samples too, in file order


class _Counting(SummaryBuilder):
    """A reader's own builder (as the alert engine's): its extra state is saved too."""

    def __init__(self, label: str = "x") -> None:
        super().__init__()
        self.label = label
        self.seen: list[str] = []
        self.observe = self.note

    def note(self, rec: object) -> None:
        self.seen.append(rec.kind)  # type: ignore[attr-defined]


def test_a_builder_of_its_own_resumes_its_own_state(tmp_path):
    (tmp_path / "s.jsonl").write_bytes(lines(40))
    IncrementalSummary(tmp_path, "s", builder_factory=_Counting).refresh(as_of=AS_OF)
    other = IncrementalSummary(tmp_path, "s", builder_factory=lambda: _Counting("y"))
    other.refresh(as_of=AS_OF)
    assert not other.resumed  # other settings: another state
    again = IncrementalSummary(tmp_path, "s", builder_factory=_Counting)
    again.refresh(as_of=AS_OF)
    builder = again.builder
    assert again.resumed and isinstance(builder, _Counting) and len(builder.seen) == 40
    assert builder.observe == builder.note  # bound to the restored builder
    assert len(state_files(tmp_path)) == 2  # one per kind and settings of builder


def test_state_size_stays_bounded_per_event(tmp_path):
    (tmp_path / "s.jsonl").write_bytes(lines(4000))
    read(tmp_path)
    (state,) = state_files(tmp_path)
    assert state.stat().st_size < 4000 * 120  # see README: bytes per event


def test_the_cli_summary_saves_and_resumes(tmp_path, repo_root):
    (tmp_path / "s.jsonl").write_bytes(lines(200))
    args = [sys.executable, "-m", "src.cli.view_telemetry", "--session", "s", "--summary"]
    args += ["--plain", "--path", str(tmp_path)]
    outs = [subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=repo_root)]
    assert len(state_files(tmp_path)) == 1
    outs.append(subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=repo_root))
    assert [o.returncode for o in outs] == [0, 0] and outs[0].stdout == outs[1].stdout
    assert "Total events: 200" in outs[1].stdout
    # This process imported other modules than the CLI's: the state is the same code's.
    dashboard = IncrementalSummary(tmp_path, "s")
    assert dashboard.refresh().event_count == 200 and dashboard.resumed


def test_an_incremental_summary_whose_saved_builder_is_damaged_starts_over(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_bytes(lines(100))
    IncrementalSummary(tmp_path, "s", max_age_s=0).refresh(as_of=AS_OF)
    (state,) = state_files(tmp_path)
    data = state.read_bytes()
    state.write_bytes(data[:-10] + bytes(b ^ 0xFF for b in data[-10:]))  # header intact
    resumed = IncrementalSummary(tmp_path, "s", max_age_s=0)
    unchanged = resumed.refresh(as_of=AS_OF)  # answered from the header alone
    with path.open("ab") as fh:
        fh.write(lines(8, 100))
    fresh = IncrementalSummary(tmp_path, "s", max_age_s=0, persist=False)
    assert resumed.resumed and unchanged.event_count == 100
    assert resumed.refresh(as_of=AS_OF) == fresh.refresh(as_of=AS_OF)
    assert resumed.samples() == fresh.samples()


def test_a_state_holding_open_orders_resumes(tmp_path):
    """An open order keeps its order event's payload (its terms): the saved builder decodes
    with it, so appended lines are read alone (a payload class not allowed: read it all)."""
    path = tmp_path / "s.jsonl"
    path.write_bytes(lines(43))  # c10: intent, gate, order, no fill yet
    first, _ = read(tmp_path)
    assert first.fills.orders_without_fills == 1
    path.write_bytes(lines(44))
    got, read_now = read(tmp_path)
    assert read_now == 1 and got == one_pass(tmp_path)
    assert got.fills.orders_without_fills == 0


def test_the_builder_of_an_unchanged_session_with_a_damaged_state_holds_it_all(tmp_path):
    """What the alert tracker reads after a refresh (its windows): never an empty builder."""
    path = tmp_path / "s.jsonl"
    path.write_bytes(lines(100))
    IncrementalSummary(tmp_path, "s", max_age_s=0).refresh(as_of=AS_OF)
    (state,) = state_files(tmp_path)
    data = state.read_bytes()
    state.write_bytes(data[:-10] + bytes(b ^ 0xFF for b in data[-10:]))  # header intact
    resumed = IncrementalSummary(tmp_path, "s", max_age_s=0)
    summary = resumed.refresh(as_of=AS_OF)  # answered from the header alone
    assert resumed.builder.event_count == summary.event_count == 100
    assert resumed.refresh(as_of=AS_OF) == summary


def test_every_query_module_the_read_path_imports_decides_the_code_version():
    """A state saved by other code is rebuilt: every src/query module the analytics and
    the read path import (transitively) is hashed into the state's code version."""
    import ast
    from pathlib import Path

    query = Path(summary_state.__file__).parent
    hashed = set(summary_state._READ_PATH)
    todo = [*sorted((query / "analytics").glob("*.py")), *(query / n for n in hashed)]
    seen: set[Path] = set()
    imported: set[str] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                parts = name.split(".")
                if parts[:2] != ["src", "query"] or len(parts) < 3 or parts[2] == "analytics":
                    continue
                module = query / f"{parts[2]}.py"
                imported.add(module.name)
                todo.append(module)
    assert imported - hashed == set()


def _event(kind: str, payload: dict, **top: object) -> bytes:
    event = {"kind": kind, "step": 5, "session_id": "s", "symbol": "X", "mono_ns": 0}
    return msgspec.json.encode(event | top | {"payload": payload})


def test_a_resumed_state_looks_ids_up_in_its_indexes(tmp_path):
    """Fill ids and filled orders from before the save point are found in the state's id
    indexes, not rebuilt into sets: duplicates, late fills and cancels count as in one pass."""
    path = tmp_path / "s.jsonl"
    first = [
        _event("order", {"client_id": "c1", "quantity": 1}),
        _event("fill", {"client_id": "c1", "filled_quantity": 1, "fill_price": 1.0}, event_id=1),
        _event("order", {"client_id": 7, "quantity": 2}),
    ]
    path.write_bytes(b"".join(line + b"\n" for line in stamped(first)))
    read(tmp_path)  # saved: fill id 1, order c1 filled, order 7 open
    inc = IncrementalSummary(tmp_path, "s")
    inc.refresh(as_of=AS_OF)
    later = [
        _event("fill", {"client_id": 7.0, "filled_quantity": 1, "fill_price": 1.0}, event_id=True),
        _event("fill", {"client_id": "c1", "filled_quantity": 1, "fill_price": 1.0}, event_id=2),
        _event("cancel", {"client_id": "c1"}),
        _event("fill", {"client_id": 7, "filled_quantity": 2, "fill_price": 1.0}, event_id=3.0),
    ]
    with path.open("ab") as fh:
        fh.write(b"".join(line + b"\n" for line in stamped(first + later)[len(first) :]))
    got = inc.refresh(as_of=AS_OF)
    pairer = inc.builder.pairer
    assert inc.resumed and pairer._fill_index is not None  # the ids were not rebuilt...
    assert set(pairer._fill_ids) == {2, 3.0}  # ...only those read since are in the set
    assert pairer._orders["s"] == {7: COMPLETED}  # c1 is in the index only
    fresh = IncrementalSummary(tmp_path, "s", persist=False)  # one pass over the lines
    assert got == fresh.refresh(as_of=AS_OF)
    # True is fill id 1 again; c1 was filled before the save point: both duplicates.
    assert got.fills.duplicate_fills == 2 and got.orders.unmatched == 0
    assert got.fills.filled_orders == 2 and got.orders.open == 0
    summary, read_now = read(tmp_path)
    assert read_now == 4 and summary == one_pass(tmp_path)
    assert summary.fills == got.fills
