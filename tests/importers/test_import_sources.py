"""Reading import files: line numbers (also for multi-line CSV values), delimiters, gzip."""

from __future__ import annotations

import gzip

from src.importers.normalize import RowError
from src.importers.sources import read_csv, read_jsonl


def test_jsonl_rows_keep_their_line_numbers(tmp_path):
    """Blank lines are skipped but counted; non-JSON and non-objects come back as RowError."""
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": 1}\n\nnot json\n[1, 2]\n{"b": 2}\n')
    rows = [(n, r if isinstance(r, dict) else str(r)) for n, r, _ in read_jsonl(path)]
    assert rows[0] == (1, {"a": 1}) and rows[3] == (5, {"b": 2})
    assert rows[1][0] == 3 and rows[1][1].startswith("not JSON")
    assert rows[2] == (4, "not a JSON object")


def test_csv_line_numbers_count_physical_lines(tmp_path):
    """A row after a quoted value spanning two lines is reported at its own first line."""
    path = tmp_path / "x.csv"
    path.write_text('a,b\n1,"two\nlines"\n3,4\n5\n')
    rows = list(read_csv(path))
    assert [(n, r) for n, r, _ in rows[:2]] == [
        (2, {"a": "1", "b": "two\nlines"}),
        (4, {"a": "3", "b": "4"}),
    ]
    assert rows[2][0] == 5 and isinstance(rows[2][1], RowError)


def test_semicolons_bom_and_gzip(tmp_path):
    """A gzipped, BOM-prefixed, semicolon-separated CSV reads like any other."""
    path = tmp_path / "x.csv.gz"
    path.write_bytes(gzip.compress("\ufeffts;kind\n2025-12-20T10:00:00Z;FILL\n".encode()))
    ((n, row, _),) = list(read_csv(path))
    assert (n, row) == (2, {"ts": "2025-12-20T10:00:00Z", "kind": "FILL"})


def test_undecodable_bytes_spoil_only_their_row(tmp_path):
    """A row with bytes that are not UTF-8 is a bad row; the rows after it still read."""
    path = tmp_path / "x.csv"
    path.write_bytes(b"a,b\n1,\xff\xfe\n3,4\n")
    rows = list(read_csv(path))
    assert isinstance(rows[0][1], RowError) and rows[0][0] == 2
    assert rows[1][:2] == (3, {"a": "3", "b": "4"})
