"""Export, replay and SQL on the 1M-event session of the query benchmark.

* export 1M events to CSV, JSON lines and Parquet: wall time, events/s, output size, and
  the peak RSS of a fresh process doing it (constant memory: compare with the import
  baseline); Excel on the fills of the first hour (openpyxl is the slow part);
* replay the first hour at full speed into a JSONL logger in another directory;
* SQL (DuckDB) against the query layer: kind counts, the newest 200 fills, and an hourly
  notional/slippage question the CLI does not answer, over the JSONL log and over its
  Parquet export.

The session is generated and cached by :mod:`benchmarks.bench_query` (same cache dir,
``$BENCH_DATA_DIR``, default ``/tmp/execution-telemetry-bench``). Outputs go to a scratch
directory inside it and are deleted afterwards.
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks._report import row as _row
from benchmarks._sessions import DEFAULT_DATA_DIR, SIZES, START_US, ensure_session, session_id
from benchmarks.bench_query import _PEAK_RSS_KIB, _run_measured
from src.execution.telemetry.jsonl import JsonlExecutionLogger
from src.export import export
from src.query.engine import iter_events, summarize, tail
from src.query.filters import EventFilter
from src.replay import replay
from src.sql import connect

RUNS = 3
LABEL = "1m"

_EXPORT_CODE = (
    "import sys\n"
    "from src.export import export\n"
    "from src.query.filters import EventFilter\n"
    "r = export(sys.argv[1], EventFilter.build(session_id=sys.argv[2]), sys.argv[3], sys.argv[4])\n"
    "print(r.events)\n" + _PEAK_RSS_KIB
)
# The same imports as the export (pyarrow for parquet), without exporting anything.
_BASELINE_CODE = (
    "import importlib, sys\nimportlib.import_module('src.export.' + sys.argv[1])\n" + _PEAK_RSS_KIB
)

HOURLY_SQL = """
    SELECT symbol, date_trunc('hour', ts) AS hour, count(*) AS fills,
           sum(fill_notional) AS notional,
           avg(CASE WHEN side = 'buy' THEN fill_price / reference_price - 1
                    ELSE 1 - fill_price / reference_price END) * 10000 AS slippage_bps
    FROM fills GROUP BY ALL ORDER BY ALL
"""


def _median_s(fn: Callable[[], object], runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def hourly_in_python(base: Path, sid: str) -> dict:
    """What answering HOURLY_SQL takes without SQL: a loop over iter_events."""
    acc: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for rec in iter_events(base, EventFilter.build(session_id=sid, kind="fill")):
        p = rec.payload
        ref, price = p.get("reference_price"), p.get("fill_price")
        if not ref or price is None:
            continue
        slip = price / ref - 1 if p.get("side") == "buy" else 1 - price / ref
        a = acc[(rec.symbol, int(rec.t // 3600))]
        a[0] += 1
        a[1] += p.get("fill_notional") or 0.0
        a[2] += slip
    return acc


def main() -> None:
    data_dir = Path(os.environ.get("BENCH_DATA_DIR") or DEFAULT_DATA_DIR)
    data_dir.mkdir(parents=True, exist_ok=True)
    print(
        f"== export / replay / SQL benchmark ({platform.python_implementation()} "
        f"{platform.python_version()}, {datetime.now(UTC):%Y-%m-%d}, data in {data_dir}) =="
    )
    path, took = ensure_session(data_dir, LABEL)
    sid = session_id(LABEL)
    n = SIZES[LABEL]
    how = "cached" if took is None else f"generated in {took:.1f} s"
    print(f"  session {LABEL}: {n:,} events, {path.stat().st_size / 1e6:.1f} MB ({how})")
    # Only the 1M session under this base, so every reader sees the same single file.
    base = data_dir / f"export-bench-{os.getpid()}"
    scratch = base / "out"
    (base / "logs").mkdir(parents=True)
    try:
        os.link(path, base / "logs" / path.name)
    except OSError:
        shutil.copyfile(path, base / "logs" / path.name)
    logs = base / "logs"
    try:
        _run(logs, scratch, sid, n)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _run(logs: Path, scratch: Path, sid: str, n: int) -> None:
    flt = EventFilter.build(session_id=sid)
    print(f"  {'figure':58s} {'measured':>14s}   note")
    # -- exports --------------------------------------------------------------------
    outputs: dict[str, Path] = {}
    for fmt, name in (("csv", "all.csv"), ("jsonl", "all.jsonl"), ("parquet", "pq")):
        out = scratch / name
        t0 = time.perf_counter()
        result = export(logs, flt, fmt, out)
        wall = time.perf_counter() - t0
        assert result.events == n, result.events
        outputs[fmt] = out
        _row(
            f"export 1M -> {fmt}",
            f"{wall:.2f} s",
            f"{n / wall:,.0f} events/s, {_size(out) / 1e6:,.0f} MB",
        )
        if fmt in ("csv", "parquet"):
            again = scratch / f"rss-{name}"
            _, base_kib = _run_measured(_BASELINE_CODE, fmt)
            _, peak_kib = _run_measured(_EXPORT_CODE, str(logs), sid, fmt, str(again))
            _row(
                f"  peak RSS of a process exporting 1M -> {fmt}",
                f"{peak_kib / 1024:.0f} MB",
                f"import baseline {base_kib / 1024:.0f} MB",
            )
    start = datetime.fromtimestamp(START_US / 1e6, UTC)
    hour = EventFilter.build(session_id=sid, start=start, end=start + timedelta(hours=1))
    fills_hour = EventFilter.build(
        session_id=sid, kind="fill", start=start, end=start + timedelta(hours=1)
    )
    t0 = time.perf_counter()
    result = export(logs, fills_hour, "xlsx", scratch / "fills.xlsx")
    wall = time.perf_counter() - t0
    _row(
        "export fills of the first hour -> xlsx",
        f"{wall:.2f} s",
        f"{result.events:,} rows, {result.events / wall:,.0f} rows/s",
    )
    # -- replay ---------------------------------------------------------------------
    with JsonlExecutionLogger(scratch / "replayed") as sink:
        t0 = time.perf_counter()
        stats = replay(logs, hour, sink, session_id="replayed")
        wall = time.perf_counter() - t0
    _row(
        "replay first hour, full speed -> JSONL logger",
        f"{wall:.2f} s",
        f"{stats.replayed:,} events, {stats.replayed / wall:,.0f} events/s",
    )
    # -- SQL against the query layer ------------------------------------------------
    t0 = time.perf_counter()
    jsonl_con = connect(logs)
    parquet_con = connect(None, [outputs["parquet"]])
    _row("SQL: open the archive (build the views)", f"{(time.perf_counter() - t0) * 1e3:.0f} ms")
    expected = summarize(logs, flt).kind_counts
    kinds_sql = "SELECT kind, count(*) FROM events GROUP BY kind"
    for con in (jsonl_con, parquet_con):
        assert dict(con.sql(kinds_sql).fetchall()) == expected
    _row(
        "kind counts: query layer summarize() (all analytics)",
        f"{_median_s(lambda: summarize(logs, flt)):.3f} s",
    )
    _row(
        "kind counts: SQL over JSONL",
        f"{_median_s(lambda: jsonl_con.sql(kinds_sql).fetchall()):.3f} s",
    )
    _row(
        "kind counts: SQL over Parquet",
        f"{_median_s(lambda: parquet_con.sql(kinds_sql).fetchall()):.3f} s",
    )
    newest = EventFilter.build(session_id=sid, kind="fill")
    newest_sql = "SELECT * FROM fills ORDER BY ts DESC LIMIT 200"
    layer = [r.data["event_id"] for r in tail(logs, newest, 200)]
    got = parquet_con.sql(newest_sql).to_arrow_table().column("event_id").to_pylist()
    assert got[:50] == layer[:50]
    _row(
        "newest 200 fills: query layer tail()",
        f"{_median_s(lambda: tail(logs, newest, 200), 11) * 1e3:.1f} ms",
    )
    _row(
        "newest 200 fills: SQL over JSONL",
        f"{_median_s(lambda: jsonl_con.sql(newest_sql).to_arrow_table()) * 1e3:.0f} ms",
    )
    _row(
        "newest 200 fills: SQL over Parquet",
        f"{_median_s(lambda: parquet_con.sql(newest_sql).to_arrow_table()) * 1e3:.0f} ms",
    )
    rows = jsonl_con.sql(HOURLY_SQL).to_arrow_table().to_pylist()
    python = hourly_in_python(logs, sid)
    assert len(rows) == len(python) and sum(r["fills"] for r in rows) == sum(
        a[0] for a in python.values()
    )
    _row(
        "hourly notional + slippage per symbol: Python loop",
        f"{_median_s(lambda: hourly_in_python(logs, sid), 1):.3f} s",
        "over iter_events",
    )
    _row(
        "hourly notional + slippage per symbol: SQL over JSONL",
        f"{_median_s(lambda: jsonl_con.sql(HOURLY_SQL).to_arrow_table()):.3f} s",
    )
    _row(
        "hourly notional + slippage per symbol: SQL over Parquet",
        f"{_median_s(lambda: parquet_con.sql(HOURLY_SQL).to_arrow_table()):.3f} s",
    )


if __name__ == "__main__":
    main()
