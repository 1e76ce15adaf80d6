"""The dashboard's first /metrics scrape after a restart, on the 1M-event session.

``/metrics`` folds every line of every session under the log root into the execution
metrics. A dashboard saves that fold's state next to the logs (``.summary/``) and a restarted
one starts from it (src/webui/metrics_state.py). Measured on a real dashboard (uvicorn in its
own process, stopped with SIGTERM as a service manager would):

* with no saved state: how soon the first scrape answers (a scrape waits at most
  ``SCRAPE_WAIT_S`` for the logs; until the first fold completes it answers without the
  execution series) and how soon the series are complete (the whole fold);
* the first scrape of a restarted dashboard (median of ``RESTARTS``), which must be
  complete and equal to the first dashboard's, and the state file's size.

Target: a restart costs milliseconds, far inside Prometheus' default 10 s scrape timeout:
the state's own part (opening and checking it, restoring, the first scrape, in this
process) at most 50 ms; over HTTP a scrape costs what any request costs (/healthz is
printed beside it for scale).
The log root is a scratch directory holding a hard link to the query benchmark's cached
1M session (generated on first use, see benchmarks/_sessions.py); removed afterwards.
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx2 as httpx
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from benchmarks._report import row
from benchmarks._server import DashboardServer
from benchmarks._sessions import DEFAULT_DATA_DIR, SIZES, ensure_session
from src.query.state_file import STATE_DIR
from src.webui.metrics import RESTARTED_FRESH, LogMetrics
from src.webui.metrics_state import STATE_NAME

RESTARTS = 3
SCRAPE_TIMEOUT_S = 10.0  # Prometheus' default
TARGET_RESTART_S = 0.05
IN_PROCESS = 5
OWN = RESTARTED_FRESH  # the dashboard's own series: a restart starts them afresh


def _values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if not s.name.startswith(OWN)
    }


def _loads(text: str, outcome: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "telemetry_dashboard_metrics_state_loads_total" and (
                s.labels.get("outcome") == outcome
            ):
                return s.value
    return 0.0


_baseline: list[float] = []  # a /healthz request right after, for scale


def _ready(text: str) -> bool:
    return "telemetry_dashboard_execution_metrics_ready 1.0" in text


def first_scrape(root: Path) -> tuple[float, float, bool, str]:
    """Start a dashboard over ``root``; time its first /metrics and how long until the
    execution series are complete (scraping again every second, as Prometheus would,
    only faster); stop it (SIGTERM: its shutdown saves the state)."""
    with DashboardServer(root) as server:
        started = time.perf_counter()
        first = None
        while True:
            response = httpx.get(f"{server.url}/metrics", timeout=120)
            took = time.perf_counter() - started
            assert response.status_code == 200, response.status_code
            first = took if first is None else first
            if _ready(response.text):
                started = time.perf_counter()
                assert httpx.get(f"{server.url}/healthz", timeout=30).status_code == 200
                _baseline.append(time.perf_counter() - started)
                return first, took, first == took, response.text
            time.sleep(1.0)


def in_process(root: Path) -> float:
    """A new collector's first scrape in this process: the state's part of a restart
    (no server, no HTTP: the figure a loaded machine moves least)."""
    logs = LogMetrics(root)
    registry = CollectorRegistry()
    registry.register(logs)
    started = time.perf_counter()
    text = generate_latest(registry).decode()
    took = time.perf_counter() - started
    assert _loads(text, "restored") == 1 and _ready(text), "the saved state was not used"
    logs.close()
    return took


def main() -> None:
    data_dir = Path(os.environ.get("BENCH_DATA_DIR") or DEFAULT_DATA_DIR)
    data_dir.mkdir(parents=True, exist_ok=True)
    print(
        f"== /metrics restart benchmark ({platform.python_implementation()} "
        f"{platform.python_version()}, {datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} CPUs, "
        f"data in {data_dir}) =="
    )
    path, took = ensure_session(data_dir, "1m")
    how = "cached" if took is None else f"generated in {took:.1f} s"
    print(f"  session 1m: {SIZES['1m']:>9,} events {path.stat().st_size / 1e6:9.1f} MB  ({how})")
    root = data_dir / f"metrics-root-{os.getpid()}"
    root.mkdir()
    try:
        try:
            os.link(path, root / path.name)
        except OSError:
            shutil.copyfile(path, root / path.name)
        answered, cold, _, cold_body = first_scrape(root)
        state = root / STATE_DIR / STATE_NAME
        row(
            "first /metrics, no saved state: answered in",
            f"{answered:.2f} s",
            f"< {SCRAPE_TIMEOUT_S:.0f} s",
            answered < SCRAPE_TIMEOUT_S,
        )
        row("  execution series complete (full fold) after", f"{cold:.2f} s")
        assert state.is_file(), "no state saved"
        warm: list[float] = []
        for _ in range(RESTARTS):
            took, _, complete, body = first_scrape(root)
            assert complete, "the first scrape after a restart was not complete"
            assert _loads(body, "restored") == 1, "the saved state was not used"
            a, b = _values(body), _values(cold_body)
            diff = {k: (a.get(k), b.get(k)) for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
            assert not diff, f"a restart changed the metrics: {sorted(diff.items())[:5]}"
            warm.append(took)
        median = statistics.median(warm)
        row(f"first /metrics after a restart (median of {RESTARTS})", f"{median * 1000:.1f} ms")
        print(f"    each: {', '.join(f'{t * 1000:.1f} ms' for t in warm)}")
        row(
            "  for scale: a /healthz request (median)",
            f"{statistics.median(_baseline) * 1000:.1f} ms",
        )
        inner = [in_process(root) for _ in range(IN_PROCESS)]
        best = statistics.median(inner)
        row(
            f"  of which the state's part, in-process (median of {IN_PROCESS})",
            f"{best * 1000:.1f} ms",
            f"<= {TARGET_RESTART_S * 1000:.0f} ms",
            best <= TARGET_RESTART_S,
        )
        row("ratio, full fold / restart", f"{cold / median:.0f}x")
        row("saved /metrics state", f"{state.stat().st_size / 1e3:.1f} kB")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
