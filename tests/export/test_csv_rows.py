"""The CSV writer fills the payload columns from the keys a payload has (one cell per key,
not per column): every row is still exactly the column-by-column definition."""

from __future__ import annotations

import csv
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from src.common.cells import csv_cell, escape_cell
from src.export.columns import BASE_COLUMNS, FLAT_COLUMNS, payload_json
from src.export.csv import CsvWriter
from src.query.records import Record


def by_column(session_id: str, rec: Record) -> list[object]:
    """A row as the columns define it: each base field, each payload column, the payload."""
    row = [csv_cell(rec.data.get(key)) for key in BASE_COLUMNS]
    if row[1] == "":
        row[1] = session_id
    row += [csv_cell(rec.payload.get(key)) for key in FLAT_COLUMNS]
    return [*row, escape_cell(payload_json(rec.data))]


values = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)  # the ints orjson reads
    | st.floats(allow_nan=False)
    | st.text(" =+-@'\tab", max_size=4)
    | st.lists(st.integers(0, 9), max_size=2)
)
keys = st.sampled_from([*FLAT_COLUMNS[:6], *FLAT_COLUMNS[-4:], "other", "payload"])


@settings(max_examples=300, deadline=None)
@given(
    top=st.dictionaries(st.sampled_from(BASE_COLUMNS), values),
    payload=st.dictionaries(keys, values) | values,
)
def test_a_row_is_the_column_by_column_definition(top, payload):
    rec = Record({**top, "payload": payload}, 0.0)
    got, want = io.StringIO(), io.StringIO()
    CsvWriter(got).write("s", rec)
    writer = csv.writer(want, lineterminator="\r\n")
    writer.writerow(next(csv.reader(io.StringIO(got.getvalue()))))  # the header
    writer.writerow(by_column("s", rec))
    assert got.getvalue() == want.getvalue()
