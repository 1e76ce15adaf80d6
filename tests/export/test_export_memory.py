"""Exports stream: peak memory does not grow with the number of events exported."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from src.execution.events import ExecutionEvent
from src.execution.serialization import encode_event_line
from src.export import export
from src.query.filters import EventFilter

pytestmark = pytest.mark.slow


def write_log(base: Path, n: int) -> None:
    base.mkdir(parents=True)
    t0 = datetime(2025, 12, 20, tzinfo=UTC)
    with open(base / "big.jsonl", "wb") as fh:
        for i in range(n):
            payload = {"client_id": f"o{i}", "filled_quantity": 1.0, "fill_price": 100.0 + i}
            event = ExecutionEvent(
                ts=t0 + timedelta(milliseconds=i),
                session_id="big",
                symbol="BTC-USD",
                mode="paper",
                kind="fill",
                payload=payload,
                seq=i,
            )
            fh.write(encode_event_line(event))


def peak_bytes(base: Path, fmt: str, out: Path) -> int:
    tracemalloc.start()
    try:
        result = export(base, EventFilter(), fmt, out)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.events > 0
    return peak


@pytest.mark.parametrize(("fmt", "n"), [("csv", 5_000), ("jsonl", 5_000), ("xlsx", 1_000)])
def test_peak_memory_is_flat_in_the_event_count(tmp_path, fmt, n):
    """Exporting 4x the events costs less than 1.5x the peak memory (plus 1 MB slack)."""
    write_log(tmp_path / "small", n)
    write_log(tmp_path / "large", 4 * n)
    small = peak_bytes(tmp_path / "small", fmt, tmp_path / f"small.{fmt}")
    large = peak_bytes(tmp_path / "large", fmt, tmp_path / f"large.{fmt}")
    assert large < small * 1.5 + (1 << 20), (small, large)


def test_parquet_memory_is_bounded_by_the_batch(tmp_path, monkeypatch):
    """With 1,000-row batches, 4x the events costs less than 1.5x the peak memory."""
    import src.export.parquet as parquet

    original = parquet.ParquetDatasetWriter.__init__

    def small_batches(self, root, **kwargs):
        original(self, root, batch_rows=1_000, max_buffered_rows=2_000, **kwargs)

    monkeypatch.setattr(parquet.ParquetDatasetWriter, "__init__", small_batches)
    write_log(tmp_path / "small", 5_000)
    write_log(tmp_path / "large", 20_000)
    small = peak_bytes(tmp_path / "small", "parquet", tmp_path / "small_pq")
    large = peak_bytes(tmp_path / "large", "parquet", tmp_path / "large_pq")
    assert large < small * 1.5 + (1 << 20), (small, large)
