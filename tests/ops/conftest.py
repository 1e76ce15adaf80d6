"""Fixtures for the ops tools: a telemetry root and session files of chosen ages."""

from __future__ import annotations

import gzip
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from src.execution.events import ExecutionEvent
from src.execution.serialization import encode_event_line
from src.query.engine import iter_events
from src.query.filters import EventFilter

DAY = 86_400.0


def event_lines(session_id: str, seqs: range) -> bytes:
    """Logger-format lines (fills) with the given sequence numbers."""
    return b"".join(
        encode_event_line(
            ExecutionEvent(
                ts=datetime.fromtimestamp(1_766_000_000 + n, UTC),
                session_id=session_id,
                symbol="BTC-USD",
                mode="paper",
                kind="fill",
                payload={"client_id": f"ord-{n}", "fill_price": 100.0 + n, "pad": "x" * 200},
                seq=n,
            )
        )
        for n in seqs
    )


def _age(path: Path, days: float) -> None:
    t = time.time() - days * DAY
    os.utime(path, (t, t), follow_symlinks=False)


@pytest.fixture
def age() -> Callable[[Path, float], None]:
    """``age(path, days)``: set the file's mtime ``days`` ago."""
    return _age


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "logs" / "execution"
    path.mkdir(parents=True)
    return path


@pytest.fixture
def make_session(root: Path) -> Callable[..., Path]:
    """Write a session file: ``make_session("s1", days=40, seqs=range(1, 6), gz=False, day=D)``."""

    def make(
        session_id: str,
        *,
        days: float = 0.0,
        seqs: range = range(1, 6),
        gz: bool = False,
        day: str | None = None,
    ) -> Path:
        directory = root / day if day else root
        directory.mkdir(parents=True, exist_ok=True)
        data = event_lines(session_id, seqs)
        path = directory / f"{session_id}.jsonl{'.gz' if gz else ''}"
        path.write_bytes(gzip.compress(data) if gz else data)
        _age(path, days)
        return path

    return make


def _seqs_of(root: Path, session_id: str) -> list[int]:
    return [r.data["seq"] for r in iter_events(root, EventFilter.build(session_id=session_id))]


@pytest.fixture
def seqs_of() -> Callable[[Path, str], list[int]]:
    """``seqs_of(root, session)``: sequence numbers as every reader sees them, in order."""
    return _seqs_of


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            size = st.st_size if p.is_file() and not p.is_symlink() else 0
            out[str(p.relative_to(root))] = (size, st.st_mtime_ns)
    return out


@pytest.fixture
def tree() -> Callable[[Path], dict[str, tuple[int, int]]]:
    """``tree(root)``: relative path -> (size, mtime_ns) of every entry, links not followed."""
    return _tree
