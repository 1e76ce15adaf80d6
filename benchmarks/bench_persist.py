"""Saved summary state: what a new process pays once a session was summarised before.

``python -m benchmarks persist`` (``BENCH_PERSIST_RUNS``, default 5: repeats per figure,
medians printed with the range). Every "new process" figure is measured inside a fresh
Python process (interpreter start and imports excluded, printed apart) so that nothing is
cached in memory; the baselines (the same reads without saved state) run in the same run,
so the ratios compare like with like on a shared machine.

Figures: the first-ever summary of 1M events (saved state written; read on both cores
with the ordered merge, and on one) against the same read without saving on one and on two
cores (the fork-based parallel scan: sorted samples, last merge for the summary only; and
the ordered merge a state needs) and against DuckDB (kind counts + order->fill p95 join,
same file, same run), with peak memory; the decode floor (every line of the 1M file
decoded by the scan decoder on both cores, forked, nothing else) against DuckDB; an
unchanged 5M-event session; the dashboard's first request and the alert engine's first
evaluation after a restart on 1M; 1,000 and 10,000 appended events.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks._report import row as _row
from benchmarks._sessions import DEFAULT_DATA_DIR, REPO_ROOT, SIZES, ensure_session, session_id

RUNS = int(os.environ.get("BENCH_PERSIST_RUNS") or 5)

_PRELUDE = """
import json, os, resource, sys, time
t_start = time.perf_counter()
{imports}
imported = time.perf_counter() - t_start
def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
rss0 = rss()
t0 = time.perf_counter()
{body}
took = time.perf_counter() - t0
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({{"s": took, "import_s": imported, "rss_mb": rss() - rss0,
                  "child_mb": children, "extra": globals().get("extra")}}))
"""

_SUMMARY = ("from src.query.engine import summarize", "from src.query.filters import EventFilter")


def _fresh(imports: tuple[str, ...], body: str, **env: str) -> dict:
    """Run ``body`` in a new interpreter; its timing, import time and memory."""
    code = _PRELUDE.format(imports="\n".join(imports), body=body)
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, **env},
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _summary_body(base: Path, sid: str, **kw: object) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in kw.items())
    return (
        f"s = summarize({str(base)!r}, EventFilter.build(session_id={sid!r}), {args})\n"
        "extra = [s.event_count, s.latency.order_to_fill.p95_ms]"
    )


def _ordered_body(base: Path, sid: str) -> str:
    """The read a first saved state takes (2 processes, ordered merge), saving nothing."""
    return (
        f"s = summarize_session({str(base)!r}, session_files({str(base)!r}, {sid!r}), "
        "gap_threshold_s=60.0, save=False)\n"
        "extra = [s.event_count, s.latency.order_to_fill.p95_ms]"
    )


_ORDERED = (
    "from src.query.files import session_files",
    "from src.query.saved_scan import summarize_session",
)

_FLOOR = (
    "from io import BytesIO",
    "from pathlib import Path",
    "from src.query.lines import cap_lines, iter_range_blocks",
    "from src.query.parallel import plan_ranges, run_forked",
    "from src.query.scan_events import scan_decoder",
)


def _floor_body(path: Path) -> str:
    """Decode every line with the scan decoder, the file split over 2 forked processes."""
    return f"""
fd = os.open({str(path)!r}, os.O_RDONLY)
ranges = plan_ranges([(Path({str(path)!r}), fd, os.fstat(fd).st_size)], 2)
def job(pieces):
    def run():
        decode, ok, bad = scan_decoder.decode, 0, 0
        for piece in pieces:
            for block in cap_lines(iter_range_blocks(fd, piece.start, piece.end)):
                for line in BytesIO(block).readlines():
                    try:
                        decode(line)
                        ok += 1
                    except Exception:
                        bad += 1
        return ok, bad
    return run
done = run_forked([job(r) for r in ranges])
extra = [sum(d[0] for d in done), sum(d[1] for d in done)]
"""


def _duckdb_body(path: Path) -> str:
    return f"""
c = duckdb.connect()
c.execute('''CREATE TEMP TABLE ev AS SELECT kind, CAST(ts AS TIMESTAMPTZ) AS ts,
    json_extract_string(payload, '$.client_id') AS cid
    FROM read_json({str(path)!r}, format='newline_delimited',
                   columns={{ts: 'VARCHAR', kind: 'VARCHAR', payload: 'JSON'}})''')
counts = c.execute("SELECT kind, count(*) FROM ev GROUP BY kind").fetchall()
p95 = c.execute('''SELECT quantile_disc(date_diff('microsecond', o.ts, f.ts) / 1000.0, 0.95)
    FROM (SELECT cid, min(ts) ts FROM ev WHERE kind = 'order' GROUP BY cid) o
    JOIN (SELECT cid, min(ts) ts FROM ev WHERE kind = 'fill' GROUP BY cid) f USING (cid)
    ''').fetchone()[0]
extra = [sum(n for _, n in counts), p95]
"""


def _incremental_body(base: Path, sid: str, persist: bool) -> str:
    return f"""
inc = IncrementalSummary({str(base)!r}, {sid!r}, persist={persist!r})
s = inc.refresh()
encoded = orjson.dumps(s.to_dict())
extra = [s.event_count, inc.resumed]
"""


def _alerts_body(logs: Path, state: Path, as_of: float) -> str:
    return f"""
config = AlertsConfig()
source = FileSource({str(logs)!r}, horizon_s=horizon_s(config), active_within_s=10 * 86_400.0)
engine = AlertEngine(config, source, store=StateStore({str(state)!r}))
result = engine.evaluate(as_of={as_of!r})
extra = [c.key for c in result.conditions]
"""


_ALERT_IMPORTS = (
    "from src.alerts.config import AlertsConfig",
    "from src.alerts.engine import AlertEngine, horizon_s",
    "from src.alerts.sources import FileSource",
    "from src.alerts.state import StateStore",
)


def _clear_states(base: Path) -> None:
    shutil.rmtree(base / ".summary", ignore_errors=True)


def _med(values: list[float], scale: float = 1000.0, unit: str = "ms") -> str:
    v = sorted(x * scale for x in values)
    return f"{statistics.median(v):8.1f} {unit} ({v[0]:.1f}-{v[-1]:.1f})"


def _append_events(path: Path, sid: str, t: float, events: int) -> None:
    from benchmarks.bench_alerts import _append

    _append(path, sid, t, events // 5)  # 5 events per trade


def main() -> None:
    data_dir = Path(os.environ.get("BENCH_DATA_DIR") or DEFAULT_DATA_DIR)
    data_dir.mkdir(parents=True, exist_ok=True)
    print(
        f"== persist benchmark ({platform.python_implementation()} {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, load "
        f"{os.getloadavg()[0]:.1f}, {RUNS} runs per figure, data in {data_dir}) =="
    )
    sources = {label: ensure_session(data_dir, label)[0] for label in ("1m", "5m")}
    work = data_dir / f"persist-bench-{os.getpid()}"
    ro, grow, alerts = work / "ro", work / "grow", work / "alerts"
    for d in (ro, grow, alerts / "logs"):
        d.mkdir(parents=True)
    try:
        for path in sources.values():
            os.link(path, ro / path.name)  # same inode: read only, never written
        os.link(sources["1m"], alerts / "logs" / sources["1m"].name)
        shutil.copyfile(sources["1m"], grow / sources["1m"].name)  # this one is appended to
        _run(ro, grow, alerts, sources)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(ro: Path, grow: Path, alerts: Path, sources: dict[str, Path]) -> None:
    sid1, sid5 = session_id("1m"), session_id("5m")
    size1 = sources["1m"].stat().st_size
    print(
        f"  1M session {size1 / 1e6:.0f} MB; 5M session {sources['5m'].stat().st_size / 1e6:.0f} MB"
    )

    # -- first-ever full summary of 1M: saved state vs no state (1 and 2 cores) vs DuckDB --
    keys = ("state", "state1", "one", "two", "ordered", "floor", "duckdb")
    first: dict[str, list[dict]] = {k: [] for k in keys}
    for _ in range(RUNS):
        _clear_states(ro)
        first["ordered"].append(_fresh(_ORDERED, _ordered_body(ro, sid1)))
        first["state1"].append(_fresh(_SUMMARY, _summary_body(ro, sid1, workers=1)))
        _clear_states(ro)
        first["state"].append(_fresh(_SUMMARY, _summary_body(ro, sid1)))
        first["one"].append(_fresh(_SUMMARY, _summary_body(ro, sid1, saved_state=False, workers=1)))
        first["two"].append(_fresh(_SUMMARY, _summary_body(ro, sid1, saved_state=False, workers=2)))
        first["floor"].append(_fresh(_FLOOR, _floor_body(sources["1m"])))
        first["duckdb"].append(_fresh(("import duckdb",), _duckdb_body(sources["1m"])))
    state_bytes = sum(p.stat().st_size for p in (ro / ".summary").iterdir())
    times = {k: [r["s"] for r in v] for k, v in first.items()}
    duck = statistics.median(times["duckdb"])
    print(f"  {'figure':58s} {'median (range)':>30s}  {'target':>10s}")
    _row("first summary 1M, saved state written (2 processes)", _med(times["state"], 1, "s"))
    _row("first summary 1M, saved state written (1 process)", _med(times["state1"], 1, "s"))
    _row("first summary 1M, no state, 1 process", _med(times["one"], 1, "s"))
    _row("first summary 1M, no state, 2 processes (fork scan)", _med(times["two"], 1, "s"))
    _row("  same, ordered merge (what a state needs), not saved", _med(times["ordered"], 1, "s"))
    _row("DuckDB kind counts + order->fill p95 join, 1M", _med(times["duckdb"], 1, "s"))
    _row("FLOOR: msgspec decode of every line, 2 processes", _med(times["floor"], 1, "s"))
    floor = statistics.median(times["floor"])
    _row("  ratio DuckDB / FLOOR", f"{duck / floor:8.2f} x")
    for key in ("state", "state1", "one", "two", "ordered"):
        ratio = statistics.median(times[key]) / duck
        _row(f"  ratio {key} / DuckDB", f"{ratio:8.2f} x", "<= 1.00 x", ratio <= 1.0)
    for key in ("state", "two", "ordered"):
        _row(f"  ratio {key} / FLOOR", f"{statistics.median(times[key]) / floor:8.2f} x")
    decoded = {tuple(r["extra"]) for r in first["floor"]}
    print(f"  FLOOR lines decoded / rejected: {decoded}")
    peak = max(r["rss_mb"] + r["child_mb"] for r in first["state"])
    _row("peak memory, first summary with state (max)", f"{peak:8.0f} MB", "< 200 MB", peak < 200)
    peak2 = max(r["rss_mb"] + r["child_mb"] for r in first["two"])
    _row("peak memory, 2 processes, workers included (max)", f"{peak2:8.0f} MB")
    _row("saved state of the 1M session", f"{state_bytes / 1e6:8.1f} MB")
    _row("  bytes per event", f"{state_bytes / SIZES['1m']:8.1f} B")
    p95s = {k: {round(r["extra"][1], 3) for r in v} for k, v in first.items() if k != "floor"}
    print(f"  order->fill p95 ms, ours / DuckDB: {p95s['state']} / {p95s['duckdb']}")

    # -- unchanged 5M in a new process --------------------------------------------------
    build5 = _fresh(_SUMMARY, _summary_body(ro, sid5))
    bytes5 = sum(p.stat().st_size for p in (ro / ".summary").iterdir()) - state_bytes
    unchanged = [_fresh(_SUMMARY, _summary_body(ro, sid5)) for _ in range(RUNS)]
    before5 = _fresh(_SUMMARY, _summary_body(ro, sid5, saved_state=False))
    t5 = [r["s"] for r in unchanged]
    _row("5M: first summary, state written (once)", f"{build5['s']:8.2f} s")
    _row("5M: without state, 2 processes (once: the baseline)", f"{before5['s']:8.2f} s")
    _row("  ratio first summary with state / without", f"{build5['s'] / before5['s']:8.2f} x")
    _row("5M unchanged, new process", _med(t5), "<= 50 ms", statistics.median(t5) <= 0.05)
    _row("  ratio to the baseline", f"{statistics.median(t5) / before5['s']:8.4f} x")
    _row(
        "  interpreter imports in that process (not counted)",
        _med([r["import_s"] for r in unchanged]),
    )
    _row("5M saved state", f"{bytes5 / 1e6:8.1f} MB ({bytes5 / SIZES['5m']:.1f} B/event)")

    # -- dashboard first request, 1M: a new server, its own state / the CLI's / none ------
    from benchmarks._dashboard_restart import restart_rows

    restart_rows(sources["1m"], ro.parent / "dashboard", sid1, RUNS)

    # -- alert engine: first evaluation, then after a restart ---------------------------
    logs, state = alerts / "logs", alerts / "alert-state.json"
    from src.query.engine import tail
    from src.query.filters import EventFilter

    end = tail(logs, EventFilter.build(session_id=sid1), 1)[0].t
    first_eval = _fresh(_ALERT_IMPORTS, _alerts_body(logs, state, end))
    restarts = [_fresh(_ALERT_IMPORTS, _alerts_body(logs, state, end)) for _ in range(RUNS)]
    ta = [r["s"] for r in restarts]
    _row("alert engine first evaluation 1M (full scan, once)", f"{first_eval['s']:8.2f} s")
    _row(
        "alert engine first evaluation after restart, 1M",
        _med(ta),
        "<= 200 ms",
        statistics.median(ta) <= 0.2,
    )
    if first_eval["extra"] != restarts[0]["extra"]:
        print(f"  CONDITIONS DIFFER: {first_eval['extra']} vs {restarts[0]['extra']}")

    # -- appended events ----------------------------------------------------------------
    from src.query.incremental import IncrementalSummary

    path = grow / sources["1m"].name
    _fresh(_SUMMARY, _summary_body(grow, sid1))  # state saved
    inc = IncrementalSummary(grow, sid1, max_age_s=0)
    inc.refresh()
    costs: dict[int, list[float]] = {1_000: [], 10_000: []}
    fresh_costs: dict[int, list[float]] = {1_000: [], 10_000: []}
    t = end + 10
    for _ in range(RUNS):
        for n in (1_000, 10_000):
            t += 100
            _append_events(path, sid1, t, n)
            t0 = time.perf_counter()
            inc.refresh()
            costs[n].append(time.perf_counter() - t0)
            fresh_costs[n].append(_fresh(_SUMMARY, _summary_body(grow, sid1))["s"])
    _row("dashboard/alerts refresh after 1,000 appended events", _med(costs[1_000]))
    _row("  after 10,000 appended events", _med(costs[10_000]))
    _row("new process summary after 1,000 appended (state opened)", _med(fresh_costs[1_000]))
    _row("  after 10,000 appended events", _med(fresh_costs[10_000]))
