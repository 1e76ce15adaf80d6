"""Dashboard speed: the timeline API under concurrent load, and live (SSE) delivery latency.

Targets (dashboard issue, "Speed"): on a 1-million-event session,
``GET /api/live/execution/{id}?limit=200`` p95 under 50 ms with 20 concurrent clients on
loopback; an appended event reaches a connected SSE client in under 250 ms.

The 1M session is the query benchmark's cached one (generated on first use, see
:mod:`benchmarks.bench_query`). A real uvicorn server runs in its own process (so the load
generator does not share its GIL), configured as ``telemetry-dashboard`` runs it, with a
live poll interval of 50 ms. Measured in this one run:

* the cold first request (the session's first summary is a full scan);
* one client issuing requests back to back (the per-request service time);
* 20 concurrent clients, each issuing requests back to back (closed loop, no think time),
  against the timeline endpoint and, as the server's floor, against ``/healthz``;
* every load phase stops issuing requests after a time budget (``$BENCH_DASHBOARD_PHASE_S``,
  default 30 s; 15 s for the single client), so a slow server cannot stretch the run; the
  report then says how many requests were made. CPU per request (server process, and this
  load-generating process) is shown next to the latencies;
* the same 20 clients while the session grows: a writer thread appends events to the 1M
  session (``APPEND_RATE`` per second, a busy live session), so cached pages keep going stale
  and requests re-read the tail; the file is truncated back to its original size afterwards;
* SSE: events appended one by one (~100 ms apart) to a small separate session
  ``bench-sse-<pid>``, each stamped with its append time (``payload.t_append``), received
  by an open stream; the session file is deleted afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx2 as httpx

from benchmarks._dashboard_restart import restart_rows
from benchmarks._load import (
    APPEND_RATE,
    CLIENTS,
    Appender,
    cpu_per_request,
    event_line,
    load,
    load_rows,
    pct,
    phase_count,
    route_totals,
)
from benchmarks._report import row
from benchmarks._server import POLL_INTERVAL_S, VARIANTS, DashboardServer
from benchmarks._sessions import DEFAULT_DATA_DIR, SIZES, ensure_session, session_id

REQUESTS_PER_CLIENT = int(os.environ.get("BENCH_DASHBOARD_REQUESTS", "50"))
# Longer, so the phase spans several of the summary's once-a-second recomputations.
GROWING_REQUESTS_PER_CLIENT = 3 * REQUESTS_PER_CLIENT
SEQUENTIAL_REQUESTS = 100
# A phase stops issuing new requests after this many seconds (requests already sent finish),
# so a slow server cannot make the run take many minutes; the report shows the actual count.
PHASE_BUDGET_S = float(os.environ.get("BENCH_DASHBOARD_PHASE_S", "30"))
SEQUENTIAL_BUDGET_S = 15.0
LIMIT = 200
SSE_EVENTS = 20
SSE_GAP_S = 0.1
P95_TARGET_MS = 50.0
SSE_TARGET_MS = 250.0
# The restart figures (a new server per run: its own state, the CLI's, none saved).
RESTART_RUNS = int(os.environ.get("BENCH_DASHBOARD_RESTART_RUNS", "3"))
TIMELINE_ROUTE = "/api/live/execution/{session_id}"
# $BENCH_DASHBOARD_VARIANTS (comma-separated; default "cached" alone): the server variants
# to compare (benchmarks/_server.py VARIANTS: the app as shipped, or a cache replaced).

# -- the timeline -----------------------------------------------------------------------------


def _check_timeline(body: dict, sid: str, events: int) -> None:
    assert body["session_id"] == sid, body["session_id"]
    assert body["count"] == LIMIT and len(body["timeline"]) == LIMIT, body["count"]
    assert body["summary"]["event_count"] == events, body["summary"]["event_count"]


def cold_request(url: str, sid: str, events: int) -> float:
    """Milliseconds of the very first timeline request (summary not yet cached: full scan)."""
    t0 = time.perf_counter()
    r = httpx.get(f"{url}/api/live/execution/{sid}", params={"limit": LIMIT}, timeout=120)
    elapsed = (time.perf_counter() - t0) * 1000
    r.raise_for_status()
    _check_timeline(r.json(), sid, events)
    return elapsed


# -- SSE ------------------------------------------------------------------------------------


async def _sse(url: str, path: Path, sid: str) -> tuple[list[float], int]:
    """Per-event delivery latency (ms) of appended events, and how many never arrived."""
    latencies: dict[int, float] = {}
    connected = asyncio.Event()
    done = asyncio.Event()

    async def listen(client: httpx.AsyncClient) -> None:
        async with client.stream("GET", f"/api/live/execution/{sid}/stream") as r:
            r.raise_for_status()
            async for line in r.aiter_lines():
                connected.set()  # the first line ("retry:") comes after subscribing
                if not line.startswith("data: "):
                    continue
                received = time.time()
                details = json.loads(line[6:]).get("details") or {}
                if "t_append" in details:
                    latencies[details["n"]] = (received - details["t_append"]) * 1000
                    if len(latencies) == SSE_EVENTS:
                        done.set()
                        return

    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        task = asyncio.create_task(listen(client))
        await asyncio.wait_for(connected.wait(), 10)
        await asyncio.sleep(0.2)  # the feed's poller takes its starting position
        with open(path, "ab") as fh:
            for n in range(1, SSE_EVENTS + 1):
                line = event_line(sid, n + 1, {"n": n, "t_append": time.time()})
                fh.write(line)
                fh.flush()
                await asyncio.sleep(SSE_GAP_S)
        try:
            await asyncio.wait_for(done.wait(), 5)
        except TimeoutError:
            pass
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
    return list(latencies.values()), SSE_EVENTS - len(latencies)


def sse_latency(url: str, base: Path) -> tuple[list[float], int]:
    sid = f"bench-sse-{os.getpid()}"
    path = base / f"{sid}.jsonl"
    path.write_bytes(event_line(sid, 1, {"note": "session start"}))
    try:
        return asyncio.run(_sse(url, path, sid))
    finally:
        path.unlink(missing_ok=True)


# -- report ---------------------------------------------------------------------------------


def main() -> None:
    data_dir = Path(os.environ.get("BENCH_DATA_DIR") or DEFAULT_DATA_DIR)
    data_dir.mkdir(parents=True, exist_ok=True)
    print(
        f"== dashboard benchmark ({platform.python_implementation()} "
        f"{platform.python_version()}, {datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} CPUs, "
        f"data in {data_dir}) =="
    )
    path, took = ensure_session(data_dir, "1m")
    how = "cached" if took is None else f"generated in {took:.1f} s"
    print(f"  session 1m: {SIZES['1m']:>9,} events {path.stat().st_size / 1e6:9.1f} MB  ({how})")
    sid, events = session_id("1m"), SIZES["1m"]
    restart = data_dir / f"dashboard-restart-{os.getpid()}"
    if os.environ.get("BENCH_DASHBOARD_ONLY") == "restart":
        restart_rows(path, restart, sid, RESTART_RUNS)
        return
    api = f"/api/live/execution/{sid}"
    params = {"limit": LIMIT}
    variants = [v.strip() for v in os.environ.get("BENCH_DASHBOARD_VARIANTS", "cached").split(",")]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variant {unknown[0]!r}; choose from {', '.join(VARIANTS)}")
    if variants == ["cached"]:
        shipped(data_dir, path, sid, events, api, params)
        restart_rows(path, restart, sid, RESTART_RUNS)
        return
    compare({v: timeline_phases(data_dir, path, sid, api, params, v) for v in variants})


def timeline_phases(
    data_dir: Path, path: Path, sid: str, api: str, params: dict, variant: str
) -> dict[str, dict]:
    """The timeline phases alone (1 client, 20 clients, 20 clients on a growing session)
    against a server of ``variant``, after its cold request."""
    with DashboardServer(data_dir, variant) as server:
        cold_request(server.url, sid, SIZES["1m"])
        seq = load(server, api, params, 1, SEQUENTIAL_REQUESTS, SEQUENTIAL_BUDGET_S)
        conc = load(server, api, params, CLIENTS, REQUESTS_PER_CLIENT, PHASE_BUDGET_S)
        with Appender(path, sid, APPEND_RATE):
            growing = load(
                server, api, params, CLIENTS, GROWING_REQUESTS_PER_CLIENT, PHASE_BUDGET_S
            )
    return {"seq": seq, "conc": conc, "growing": growing}


def compare(results: dict[str, dict[str, dict]]) -> None:
    print(f"  what each cache pays (timeline limit={LIMIT}; the simple path replaces it):")
    print(
        f"  {'variant':18s} {'1 client p50':>12s} {'20 p50/p95':>14s} {'req/s':>7s} "
        f"{'CPU/req':>8s} {'growing p50/p95/p99':>22s} {'req/s':>7s} {'CPU/req':>8s}"
    )
    for name, r in results.items():
        seq, conc, grow = r["seq"], r["conc"], r["growing"]
        print(
            f"  {name:18s} {seq['p50']:9.1f} ms {conc['p50']:6.1f}/{conc['p95']:5.1f} ms "
            f"{conc['rps']:7.0f} {conc['server_cpu_ms']:5.2f} ms "
            f"{grow['p50']:6.1f}/{grow['p95']:5.1f}/{grow['p99']:5.1f} ms "
            f"{grow['rps']:7.0f} {grow['server_cpu_ms']:5.2f} ms"
        )


def shipped(data_dir: Path, path: Path, sid: str, events: int, api: str, params: dict) -> None:
    """Every figure of the app as shipped (the README's table)."""
    with DashboardServer(data_dir) as server:
        url = server.url
        print(f"  server: uvicorn in pid {server.proc.pid} at {url}, poll {POLL_INTERVAL_S} s")
        cold = cold_request(url, sid, events)
        r = httpx.get(f"{url}{api}", params=params, timeout=60)
        _check_timeline(r.json(), sid, events)
        body_kb = len(r.content) / 1024
        seq = load(server, api, params, 1, SEQUENTIAL_REQUESTS, SEQUENTIAL_BUDGET_S)
        before = route_totals(url, TIMELINE_ROUTE)
        conc = load(server, api, params, CLIENTS, REQUESTS_PER_CLIENT, PHASE_BUDGET_S)
        after = route_totals(url, TIMELINE_ROUTE)
        with Appender(path, sid, APPEND_RATE) as appender:
            growing = load(
                server, api, params, CLIENTS, GROWING_REQUESTS_PER_CLIENT, PHASE_BUDGET_S
            )
        health = load(server, "/healthz", {}, CLIENTS, REQUESTS_PER_CLIENT, PHASE_BUDGET_S)
        sse, lost = sse_latency(url, data_dir)

    server_ms = (after[0] - before[0]) / max(1, after[1] - before[1]) * 1000
    print(f"  response body limit={LIMIT}: {body_kb:.0f} KiB; every response 200")
    print(f"  {'figure':52s} {'measured':>12s}   {'target':10s} result")
    row("cold first request (full summary scan)", f"{cold:.0f} ms")
    print(f"  1 client, back to back, limit={LIMIT}: {phase_count(seq)}")
    row("  p50 / p95", f"{seq['p50']:.1f} / {seq['p95']:.1f} ms")
    row("  CPU per request: server / load generator", cpu_per_request(seq))
    load_rows(f"{CLIENTS} clients, back to back, limit={LIMIT}", conc, P95_TARGET_MS)
    row("  server-side mean (middleware histogram)", f"{server_ms:.1f} ms")
    load_rows(
        f"{CLIENTS} clients, session growing by {APPEND_RATE} events/s "
        f"({appender.appended} appended)",
        growing,
        P95_TARGET_MS,
    )
    load_rows(f"{CLIENTS} clients, back to back, /healthz (server floor)", health)
    row("p95 ratio timeline / healthz", f"{conc['p95'] / health['p95']:.1f} x")
    if sse:
        s = sorted(sse)
        print(f"  SSE append -> client, poll {POLL_INTERVAL_S * 1000:.0f} ms: {len(s)} events")
        row("  median / p95", f"{pct(s, 50):.1f} / {pct(s, 95):.1f} ms")
        ok = s[-1] < SSE_TARGET_MS and not lost
        row("  max", f"{s[-1]:.1f} ms", f"< {SSE_TARGET_MS:.0f} ms", ok)
    if lost or not sse:
        row("SSE events never received", f"{lost} / {SSE_EVENTS}", "0", False)


if __name__ == "__main__":
    main()
