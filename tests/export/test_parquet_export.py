"""Parquet export: a Hive-partitioned dataset that DuckDB reads back as one table."""

from __future__ import annotations

import duckdb
import pyarrow.parquet as pq
import pytest

from src.export import OutputExistsError, export
from src.export.parquet import ParquetDatasetWriter, partition_value
from src.query.engine import iter_events
from src.query.filters import EventFilter


def files(root) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def query(sql: str) -> list[tuple]:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con.execute(sql).fetchall()


def test_layout_is_date_then_session(archive, tmp_path):
    """Events land under date=<UTC day>/session_id=<escaped id>/part-00000.parquet."""
    root = tmp_path / "pq"
    result = export(archive, EventFilter(), "parquet", root)
    assert files(root) == [
        "date=2025-12-20/session_id=desk%3Aeu%3D1/part-00000.parquet",
        "date=2025-12-20/session_id=s1/part-00000.parquet",
        "date=2025-12-21/session_id=desk%3Aeu%3D1/part-00000.parquet",
        "date=2025-12-21/session_id=s1/part-00000.parquet",
    ]
    assert result.events == 12 and len(result.outputs) == 4


def test_duckdb_reads_partitions_and_typed_columns(archive, tmp_path):
    """DuckDB sees date and session_id (decoded) from the paths, and typed payload columns."""
    root = tmp_path / "pq"
    export(archive, EventFilter(), "parquet", root)
    glob = f"read_parquet('{root}/**/*.parquet', hive_partitioning = true)"
    assert query(
        f"SELECT session_id, date::VARCHAR, count(*) FROM {glob} GROUP BY ALL ORDER BY ALL"
    ) == [
        ("desk:eu=1", "2025-12-20", 2),
        ("desk:eu=1", "2025-12-21", 4),
        ("s1", "2025-12-20", 2),
        ("s1", "2025-12-21", 4),
    ]
    ((price, passed, ts),) = query(
        f"SELECT fill_price, passed, ts::VARCHAR FROM {glob} "
        "WHERE session_id = 's1' AND kind = 'fill'"
    )
    assert (price, passed, ts) == (100020.125, None, "2025-12-21 00:00:01.75+00")
    (payload,) = query(f"SELECT payload FROM {glob} WHERE kind = 'fill' AND symbol = 'ETH-USD'")[0]
    assert '"venue":{"name":"X"' in payload


def test_partition_values_escape_what_hive_escapes():
    """':' and '=' are percent-encoded; the characters of ordinary ids are kept."""
    assert partition_value("desk:eu=1") == "desk%3Aeu%3D1"
    assert partition_value("session_2025-12-20.a@b+c") == "session_2025-12-20.a@b+c"


def test_existing_partition_is_refused_unless_forced(archive, tmp_path):
    """A second export of the same session fails and leaves the first intact; with force the
    partitions it writes are replaced (others are kept: dynamic partition overwrite)."""
    root = tmp_path / "pq"
    export(archive, EventFilter.build(session_id="s1"), "parquet", root)
    before = {p: p.read_bytes() for p in root.rglob("*.parquet")}
    with pytest.raises(OutputExistsError, match="--force"):
        export(archive, EventFilter.build(session_id="s1"), "parquet", root)
    assert {p: p.read_bytes() for p in root.rglob("*.parquet")} == before
    assert not [p for p in root.rglob("*") if p.name.endswith(".tmp")]
    export(archive, EventFilter.build(session_id="s1", kind="fill"), "parquet", root, force=True)
    day21 = root / "date=2025-12-21" / "session_id=s1"
    assert query(f"SELECT kind FROM read_parquet('{day21}/*.parquet')") == [("fill",)]
    assert query(f"SELECT count(*) FROM read_parquet('{root}/**/*.parquet')") == [(3,)]


def test_other_sessions_are_added_to_an_existing_dataset(archive, tmp_path):
    """One root collects many exports: a new session's partitions need no --force."""
    root = tmp_path / "pq"
    export(archive, EventFilter.build(session_id="s1"), "parquet", root)
    export(archive, EventFilter.build(session_id="desk:eu=1"), "parquet", root)
    assert query(f"SELECT count(*) FROM read_parquet('{root}/**/*.parquet')") == [(12,)]


def test_small_batches_and_few_open_files_still_write_everything(archive, tmp_path):
    """Row groups of 2 rows and 1 open file at a time: more parts, the same rows."""
    root = tmp_path / "pq"
    dataset = ParquetDatasetWriter(root, batch_rows=2, max_buffered_rows=3, max_open=1)
    # Sessions interleaved by time, so partitions are closed and opened again.
    for rec in sorted(iter_events(archive, EventFilter()), key=lambda r: r.t):
        dataset.write(rec.session_id, rec)
    written = dataset.commit()
    assert len(written) > 4
    assert max(pq.ParquetFile(p).metadata.num_rows for p in written) <= 3
    ids = query(f"SELECT event_id FROM read_parquet('{root}/**/*.parquet') ORDER BY 1")
    assert [i for (i,) in ids] == sorted(r.data["event_id"] for r in iter_events(archive))


def test_abort_leaves_no_file(archive, tmp_path):
    """An export that fails half-way leaves no Parquet file and no temporary file."""
    root = tmp_path / "pq"
    dataset = ParquetDatasetWriter(root, batch_rows=1)
    for rec in iter_events(archive, EventFilter()):
        dataset.write(rec.session_id, rec)
    dataset.abort()
    assert [p for p in root.rglob("*") if p.is_file()] == []
