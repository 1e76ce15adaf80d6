"""Parquet export: a Hive-partitioned dataset (``date=YYYY-MM-DD/session_id=<id>/``).

The layout DuckDB, Spark and Trino read as one table with ``date`` and ``session_id``
columns taken from the directory names (they are not repeated inside the files). ``date``
is the UTC day of each event. Columns: ``ts`` (timestamp, microseconds, UTC), the event
fields, the payload keys as typed columns (floats for prices and quantities, booleans for
``passed``) and ``payload`` (JSON text, the payload as logged).

Rows are buffered per partition and written as row groups of at most ``batch_rows``; the
rows buffered over all partitions are bounded too, and at most ``max_open`` files are open,
so memory does not grow with the export. Files are written under hidden temporary names and
renamed when the export completes: a reader never sees half a file. A partition that
already holds Parquet files is refused unless ``force``, which replaces its ``part-*``
files. Other partitions of the dataset are left alone, so one root can collect many
exports (the archive).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from src.export.columns import BOOLEAN_KEYS, FLAT_COLUMNS, NUMERIC_KEYS, payload_json, typed_value
from src.export.output import OutputExistsError
from src.query.records import Record

__all__ = ["ParquetDatasetWriter", "ParquetFileWriter", "file_schema", "partition_value"]

_DAY_S = 86_400


def _payload_type(key: str) -> pa.DataType:
    if key in NUMERIC_KEYS:
        return pa.float64()
    if key in BOOLEAN_KEYS:
        return pa.bool_()
    return pa.string()


def file_schema(*, with_partitions: bool = False) -> pa.Schema:
    """Columns of one file; ``with_partitions`` adds ``date`` and ``session_id`` (one file)."""
    fields = [pa.field("ts", pa.timestamp("us", tz="UTC"))]
    if with_partitions:
        fields += [pa.field("date", pa.date32()), pa.field("session_id", pa.string())]
    fields += [
        pa.field("symbol", pa.string()),
        pa.field("mode", pa.string()),
        pa.field("kind", pa.string()),
        pa.field("seq", pa.int64()),
        pa.field("event_id", pa.string()),
        pa.field("mono_ns", pa.int64()),
    ]
    fields += [pa.field(key, _payload_type(key)) for key in FLAT_COLUMNS]
    fields.append(pa.field("payload", pa.string()))
    return pa.schema(fields)


_INT64_MAX = (1 << 63) - 1


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if -_INT64_MAX <= value <= _INT64_MAX else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def partition_value(text: str) -> str:
    """A Hive partition value: the characters Hive escapes become ``%XX`` (readers decode)."""
    out = []
    for ch in text:
        if ch.isalnum() or ch in "._-@+":
            out.append(ch)
        else:
            out.append("".join(f"%{b:02X}" for b in ch.encode()))
    return "".join(out)


class _Batch:
    """Column lists of the rows not yet written, in :func:`file_schema` order."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.columns: list[list[Any]] = [[] for _ in schema.names]
        self.rows = 0

    def add(self, values: list[Any]) -> None:
        for column, value in zip(self.columns, values, strict=True):
            column.append(value)
        self.rows += 1

    def take(self) -> pa.RecordBatch:
        arrays = [
            pa.array(column, type=field.type)
            for column, field in zip(self.columns, self.schema, strict=True)
        ]
        self.columns = [[] for _ in self.schema.names]
        self.rows = 0
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


def _row(rec: Record, partition: tuple[int, str] | None) -> list[Any]:
    data, payload = rec.data, rec.payload
    row: list[Any] = [round(rec.t * 1_000_000)]
    if partition is not None:
        row += [partition[0], partition[1]]
    row += [
        _str(data.get("symbol")),
        _str(data.get("mode")),
        rec.kind,
        _int(data.get("seq")),
        _str(data.get("event_id")),
        _int(data.get("mono_ns")),
    ]
    row += [typed_value(key, payload.get(key)) for key in FLAT_COLUMNS]
    row.append(payload_json(data))
    return row


def _pending_rows(item: tuple[tuple[int, str], _Part]) -> int:
    batch = item[1].batch
    return batch.rows if batch is not None else 0


def _day(t: float) -> int:
    return int(t // _DAY_S)


def _day_text(day: int) -> str:
    import datetime as _dt

    return (_dt.date(1970, 1, 1) + _dt.timedelta(days=day)).isoformat()


class _Part:
    """One partition directory: its pending rows, its open file, the files written."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.writer: pq.ParquetWriter | None = None
        self.tmp_files: list[Path] = []
        self.batch: _Batch | None = None


class ParquetDatasetWriter:
    """Write events into a Hive-partitioned dataset under ``root``."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        force: bool = False,
        batch_rows: int = 65_536,
        max_buffered_rows: int = 262_144,
        max_open: int = 32,
        compression: str = "zstd",
    ) -> None:
        self.root = Path(root)
        if self.root.is_symlink() or (self.root.exists() and not self.root.is_dir()):
            raise NotADirectoryError(f"output {str(self.root)!r} is not a directory")
        self.force = force
        self.batch_rows = batch_rows
        self.max_buffered_rows = max_buffered_rows
        self.max_open = max_open
        self.compression = compression
        self.schema = file_schema()
        self._parts: dict[tuple[int, str], _Part] = {}
        self._open: OrderedDict[tuple[int, str], None] = OrderedDict()
        self._buffered = 0
        self.root.mkdir(parents=True, exist_ok=True)

    # -- writing ----------------------------------------------------------------------
    def write(self, session_id: str, rec: Record) -> None:
        key = (_day(rec.t), session_id)
        part = self._parts.get(key) or self._new_part(key)
        if part.batch is None:
            part.batch = _Batch(self.schema)
        part.batch.add(_row(rec, None))
        self._buffered += 1
        if part.batch.rows >= self.batch_rows:
            self._flush(key, part)
        elif self._buffered >= self.max_buffered_rows:
            self._flush(*max(self._parts.items(), key=_pending_rows))

    def _new_part(self, key: tuple[int, str]) -> _Part:
        day, session_id = key
        date_dir = self.root / f"date={_day_text(day)}"
        directory = date_dir / f"session_id={partition_value(session_id)}"
        for d in (date_dir, directory):
            if d.is_symlink():
                raise NotADirectoryError(f"refusing to write through symlink {str(d)!r}")
            d.mkdir(exist_ok=True)
        existing = [p for p in directory.iterdir() if p.name.endswith(".parquet")]
        if existing and not self.force:
            raise OutputExistsError(
                f"partition {str(directory)!r} already holds Parquet files "
                "(use --force to replace them)"
            )
        part = self._parts[key] = _Part(directory)
        return part

    def _flush(self, key: tuple[int, str], part: _Part) -> None:
        if part.batch is None or not part.batch.rows:
            return
        self._buffered -= part.batch.rows
        batch = part.batch.take()
        if part.writer is None:
            while len(self._open) >= self.max_open:
                oldest, _ = self._open.popitem(last=False)
                self._close_file(self._parts[oldest])
            tmp = part.directory / (f".part-{len(part.tmp_files):05d}.parquet.{os.getpid()}.tmp")
            part.tmp_files.append(tmp)
            part.writer = pq.ParquetWriter(tmp, self.schema, compression=self.compression)
        self._open[key] = None
        self._open.move_to_end(key)
        part.writer.write_batch(batch)

    def _close_file(self, part: _Part) -> None:
        if part.writer is not None:
            part.writer.close()
            part.writer = None

    # -- ending -----------------------------------------------------------------------
    def commit(self) -> list[Path]:
        """Write what is buffered, close every file and move them into place."""
        for key, part in self._parts.items():
            self._flush(key, part)
            self._close_file(part)
        self._open.clear()
        written: list[Path] = []
        for part in self._parts.values():
            if self.force:
                for old in part.directory.glob("part-*.parquet"):
                    old.unlink()
            for i, tmp in enumerate(part.tmp_files):
                final = part.directory / f"part-{i:05d}.parquet"
                if self.force:
                    os.replace(tmp, final)
                else:
                    os.link(tmp, final)
                    tmp.unlink()
                written.append(final)
        return written

    def abort(self) -> None:
        """Close and delete every temporary file (nothing is renamed)."""
        for part in self._parts.values():
            try:
                self._close_file(part)
            except Exception:  # closing a half-written file may fail; it is deleted anyway
                part.writer = None
            for tmp in part.tmp_files:
                try:
                    tmp.unlink()
                except FileNotFoundError:
                    pass


class ParquetFileWriter:
    """Write events into one Parquet file (``date`` and ``session_id`` as columns)."""

    def __init__(self, sink: Any, *, batch_rows: int = 65_536, compression: str = "zstd") -> None:
        self.schema = file_schema(with_partitions=True)
        self._writer = pq.ParquetWriter(sink, self.schema, compression=compression)
        self._batch = _Batch(self.schema)
        self.batch_rows = batch_rows

    def write(self, session_id: str, rec: Record) -> None:
        self._batch.add(_row(rec, (_day(rec.t), session_id)))
        if self._batch.rows >= self.batch_rows:
            self._writer.write_batch(self._batch.take())

    def close(self) -> None:
        if self._batch.rows:
            self._writer.write_batch(self._batch.take())
        self._writer.close()
