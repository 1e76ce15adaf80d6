"""Alert engine cost: the first evaluation of a big session, then each following one.

The alert engine reads sessions through the query layer and keeps them between evaluations,
so the first evaluation of a session pays a full scan and every later one only reads what
was appended. Measured on the query benchmark's 1M-event session (a copy, since we append):

* first evaluation (scan, windows, all seven rules, state written);
* an evaluation with nothing appended (the steady state of ``telemetry-alerts run``);
* an evaluation after 1,000 appended events (about 200 round trips);
* the same engine's resident memory growth over the scan.

Events in the generated session are from 2025-12-20, so the engine judges as of the
session's last event (``as_of``), as ``check --as-of`` would.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks._sessions import DEFAULT_DATA_DIR, SIZES, ensure_session, session_id
from src.alerts.config import AlertsConfig
from src.alerts.engine import AlertEngine, horizon_s
from src.alerts.sources import FileSource
from src.alerts.state import StateStore
from src.query.engine import tail
from src.query.filters import EventFilter

LABEL = "1m"
RUNS = 5


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _append(path: Path, sid: str, t: float, trades: int) -> None:
    lines = []
    for i in range(trades):
        ts = datetime.fromtimestamp(t + i * 0.01, UTC).isoformat()
        iid, cid = f"bench-int-{t}-{i}", f"bench-ord-{t}-{i}"
        for kind, payload in (
            ("intent", {"intent_id": iid, "side": "buy", "quantity": 1.0, "current_price": 1.0}),
            ("gate", {"intent_id": iid, "gate_name": "MaxNotional", "passed": True}),
            ("order", {"intent_id": iid, "client_id": cid, "side": "buy", "quantity": 1.0}),
            (
                "fill",
                {"intent_id": iid, "client_id": cid, "filled_quantity": 1.0, "fill_price": 1.0},
            ),
            ("gate", {"intent_id": iid, "gate_name": "PriceSanity", "passed": True}),
        ):
            lines.append(
                json.dumps(
                    {
                        "ts": ts,
                        "session_id": sid,
                        "symbol": "BTC-USD",
                        "mode": "paper",
                        "kind": kind,
                        "payload": payload,
                    }
                )
            )
    with path.open("a") as fh:
        fh.write("\n".join(lines) + "\n")


def main() -> None:
    data_dir = Path(os.environ.get("BENCH_DATA_DIR") or DEFAULT_DATA_DIR)
    data_dir.mkdir(parents=True, exist_ok=True)
    print(
        f"== alerts benchmark ({platform.python_implementation()} {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d}, data in {data_dir}) =="
    )
    source_path, took = ensure_session(data_dir, LABEL)
    sid = session_id(LABEL)
    how = "cached" if took is None else f"generated in {took:.1f} s"
    print(f"  session {LABEL}: {SIZES[LABEL]:,} events ({how})")
    base = data_dir / f"alerts-bench-{os.getpid()}"
    logs = base / "logs"
    logs.mkdir(parents=True)
    try:
        path = logs / source_path.name
        shutil.copyfile(source_path, path)
        end = tail(logs, EventFilter.build(session_id=sid), 1)[0].t
        config = AlertsConfig()
        source = FileSource(logs, horizon_s=horizon_s(config), active_within_s=10 * 86_400.0)
        engine = AlertEngine(config, source, store=StateStore(base / "state.json"))
        rss0 = _rss_mb()
        t0 = time.perf_counter()
        first = engine.evaluate(as_of=end)
        first_s = time.perf_counter() - t0
        rss1 = _rss_mb()
        idle = []
        for _ in range(RUNS):
            t0 = time.perf_counter()
            engine.evaluate(as_of=end)
            idle.append(time.perf_counter() - t0)
        appended = []
        for run in range(RUNS):
            _append(path, sid, end + 1 + run * 20, 200)
            t0 = time.perf_counter()
            engine.evaluate(as_of=end + 1 + run * 20 + 5)
            appended.append(time.perf_counter() - t0)
        print(f"  {'figure':52s} {'measured':>12s}")
        print(f"  {'first evaluation (full scan, 1M events)':52s} {first_s:10.2f} s")
        print(
            f"  {'evaluation, nothing appended (median)':52s} "
            f"{statistics.median(idle) * 1000:10.1f} ms"
        )
        print(
            f"  {'evaluation after 1,000 appended events (median)':52s} "
            f"{statistics.median(appended) * 1000:10.1f} ms"
        )
        print(f"  {'peak RSS growth over the first evaluation':52s} {rss1 - rss0:10.0f} MB")
        print(f"  conditions at the end of the session: {[c.key for c in first.conditions]}")
    finally:
        shutil.rmtree(base, ignore_errors=True)
