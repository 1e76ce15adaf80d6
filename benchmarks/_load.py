"""Load on a dashboard server: closed-loop clients (each sends its next request when the
last is answered, no think time) within a time budget, with latency percentiles and CPU
per request on both sides; a writer appending events to a session meanwhile; and the
lines of the report that show a load phase."""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx2 as httpx

from benchmarks._report import row
from benchmarks._server import DashboardServer
from src.execution.events import ExecutionEvent
from src.execution.serialization import encode_event_line

__all__ = [
    "APPEND_RATE",
    "CLIENTS",
    "Appender",
    "cpu_per_request",
    "event_line",
    "load",
    "load_rows",
    "pct",
    "phase_count",
    "route_totals",
]

CLIENTS = 20
APPEND_RATE = 100  # events per second appended during a "growing session" phase


def pct(sorted_ms: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    return sorted_ms[max(0, math.ceil(p / 100 * len(sorted_ms)) - 1)]


def _stats(latencies_ms: list[float], wall_s: float) -> dict[str, float]:
    s = sorted(latencies_ms)
    return {
        "n": len(s),
        "p50": pct(s, 50),
        "p95": pct(s, 95),
        "p99": pct(s, 99),
        "max": s[-1],
        "rps": len(s) / wall_s,
    }


async def _client(
    url: str, path: str, params: dict, requests: int, deadline: float, out: list[float]
) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        await client.get(path, params=params)  # open the connection; not timed
        clock = time.perf_counter
        for _ in range(requests):
            if clock() >= deadline:
                return
            t0 = clock()
            r = await client.get(path, params=params)
            out.append((clock() - t0) * 1000)
            if r.status_code != 200:
                raise RuntimeError(f"GET {path} -> {r.status_code}: {r.text[:200]}")


async def _load(
    url: str, path: str, params: dict, clients: int, requests: int, budget_s: float
) -> tuple[list[float], float]:
    latencies: list[float] = []
    t0 = time.perf_counter()
    deadline = t0 + budget_s
    await asyncio.gather(
        *(_client(url, path, params, requests, deadline, latencies) for _ in range(clients))
    )
    return latencies, time.perf_counter() - t0


def load(
    server: DashboardServer,
    path: str,
    params: dict,
    clients: int,
    requests: int,
    budget_s: float,
) -> dict:
    """Closed loop: ``clients`` connections, each sending its next request on a response."""
    server_cpu0, client_cpu0 = server.cpu_s(), time.process_time()
    latencies, wall = asyncio.run(_load(server.url, path, params, clients, requests, budget_s))
    server_cpu1, client_cpu1 = server.cpu_s(), time.process_time()
    st = _stats(latencies, wall)
    st["planned"], st["budget_s"] = clients * requests, budget_s
    st["client_cpu_ms"] = (client_cpu1 - client_cpu0) / len(latencies) * 1000
    st["server_cpu_ms"] = (
        (server_cpu1 - server_cpu0) / len(latencies) * 1000
        if server_cpu0 is not None and server_cpu1 is not None
        else math.nan
    )
    return st


def route_totals(url: str, route: str) -> tuple[float, int]:
    """The server's own latency histogram for ``route``: (sum of seconds, count)."""
    # the first scrape scans the session for its own figures: ~20 s on a 1M session
    text = httpx.get(f"{url}/metrics", timeout=120).text
    label = f'{{route="{route}"}}'
    total, count = 0.0, 0
    for line in text.splitlines():
        if line.startswith("telemetry_dashboard_request_duration_seconds_sum" + label):
            total = float(line.rsplit(" ", 1)[1])
        elif line.startswith("telemetry_dashboard_request_duration_seconds_count" + label):
            count = int(float(line.rsplit(" ", 1)[1]))
    return total, count


class Appender(threading.Thread):
    """Appends ``rate`` events per second to ``path`` until stopped, then truncates the file
    back to the size it had (the cached benchmark session stays as generated)."""

    def __init__(self, path: Path, sid: str, rate: int) -> None:
        super().__init__(daemon=True)
        self.path, self.sid, self.gap = path, sid, 1 / rate
        self.size = path.stat().st_size
        self.appended = 0
        self._halt = threading.Event()

    def run(self) -> None:
        with open(self.path, "ab", buffering=0) as fh:
            next_at = time.monotonic()
            while not self._halt.is_set():
                self.appended += 1
                fh.write(event_line(self.sid, 10_000_000 + self.appended, {"n": self.appended}))
                next_at += self.gap
                self._halt.wait(max(0.0, next_at - time.monotonic()))

    def __enter__(self) -> Appender:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._halt.set()
        try:
            self.join()
        finally:
            os.truncate(self.path, self.size)


def event_line(sid: str, n: int, payload: dict) -> bytes:
    return encode_event_line(
        ExecutionEvent(
            ts=datetime.now(UTC),
            session_id=sid,
            symbol="BTC-USD",
            mode="paper",
            kind="fill",
            payload={"filled_quantity": 0.01, "fill_price": 100_000.0, "fill_fee": 0.1, **payload},
            seq=n,
            mono_ns=time.monotonic_ns(),
        )
    )


def phase_count(st: dict) -> str:
    if st["n"] == st["planned"]:
        return f"{st['n']} requests"
    return f"{st['n']} of {st['planned']} requests (stopped at the {st['budget_s']:.0f} s budget)"


def load_rows(label: str, st: dict, p95_target_ms: float | None = None) -> None:
    """The report lines of one load phase (``p95_target_ms``: judge its p95 against it)."""
    print(f"  {label}: {phase_count(st)}")
    row("  p50", f"{st['p50']:.1f} ms")
    if p95_target_ms is not None:
        ok = st["p95"] < p95_target_ms
        row("  p95", f"{st['p95']:.1f} ms", f"< {p95_target_ms:.0f} ms", ok)
    else:
        row("  p95", f"{st['p95']:.1f} ms")
    row("  p99 / max", f"{st['p99']:.1f} / {st['max']:.0f} ms")
    row("  throughput", f"{st['rps']:.1f} req/s")
    row("  CPU per request: server / load generator", cpu_per_request(st))


def cpu_per_request(st: dict) -> str:
    return f"{st['server_cpu_ms']:.1f} / {st['client_cpu_ms']:.1f} ms"
