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
import math
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx2 as httpx

from benchmarks._sessions import DEFAULT_DATA_DIR, REPO_ROOT, SIZES, ensure_session, session_id
from src.execution.events import ExecutionEvent
from src.execution.serialization import encode_event_line

CLIENTS = 20
REQUESTS_PER_CLIENT = int(os.environ.get("BENCH_DASHBOARD_REQUESTS", "50"))
# Longer, so the phase spans several of the summary's once-a-second recomputations.
GROWING_REQUESTS_PER_CLIENT = 3 * REQUESTS_PER_CLIENT
SEQUENTIAL_REQUESTS = 100
# A phase stops issuing new requests after this many seconds (requests already sent finish),
# so a slow server cannot make the run take many minutes; the report shows the actual count.
PHASE_BUDGET_S = float(os.environ.get("BENCH_DASHBOARD_PHASE_S", "30"))
SEQUENTIAL_BUDGET_S = 15.0
LIMIT = 200
POLL_INTERVAL_S = 0.05
SSE_EVENTS = 20
SSE_GAP_S = 0.1
APPEND_RATE = 100  # events per second appended during the "growing session" phase
P95_TARGET_MS = 50.0
SSE_TARGET_MS = 250.0
TIMELINE_ROUTE = "/api/live/execution/{session_id}"

# Variants: the app as shipped ("cached"), and with one or all of its caches replaced by the
# simple path, to see what each cache pays (``$BENCH_DASHBOARD_VARIANTS``, comma-separated;
# default: "cached" alone). The replacements live here, not in the app.
VARIANTS = ("cached", "no-head-cache", "no-sorted-samples", "simple")

_SERVER_CODE = """
import sys
from pathlib import Path

import uvicorn

from src.query.filters import EventFilter
from src.query.paging import page_back
from src.webui.app import create_app
from src.webui.settings import WebSettings
from src.webui.state import HeadCache

base, port, poll = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
variant = sys.argv[4]
settings = WebSettings(base_path=base, port=port, poll_interval_s=poll)
if variant in ("no-sorted-samples", "simple"):
    import src.query.incremental as incremental
    incremental.SortedSamples = lambda: None  # every summary sorts its samples in full
app = create_app(settings=settings)

class ReadEachTime(HeadCache):  # every first page read with page_back
    def page(self, session_id, kind, limit, before=None):
        if before is not None:
            return super().page(session_id, kind, limit, before)
        flt = EventFilter.build(session_id=session_id, kind=kind)
        page = page_back(self._base, flt, limit)
        return [self._render(r) for r in page.records], page.next_cursor

if variant in ("no-head-cache", "simple"):
    app.state.heads = ReadEachTime(settings)
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
"""


# -- server ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DashboardServer:
    """``uvicorn`` serving ``create_app`` over ``base`` in a child process on loopback."""

    def __init__(self, base: Path, variant: str = "cached") -> None:
        self.base = base
        self.variant = variant
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> DashboardServer:
        argv = [sys.executable, "-c", _SERVER_CODE, str(self.base), str(self.port)]
        self.proc = subprocess.Popen(
            [*argv, str(POLL_INTERVAL_S), self.variant],
            cwd=REPO_ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dashboard server exited at start:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"dashboard server did not start within 30 s:\n{self.output()}")

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()

    def cpu_s(self) -> float | None:
        """CPU seconds (user + system, all threads) the server process has used so far."""
        try:
            with open(f"/proc/{self.proc.pid}/stat") as fh:  # type: ignore[union-attr]
                fields = fh.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def output(self) -> str:
        if self._log.closed:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")


# -- measurements ---------------------------------------------------------------------------


def _pct(sorted_ms: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    return sorted_ms[max(0, math.ceil(p / 100 * len(sorted_ms)) - 1)]


def _stats(latencies_ms: list[float], wall_s: float) -> dict[str, float]:
    s = sorted(latencies_ms)
    return {
        "n": len(s),
        "p50": _pct(s, 50),
        "p95": _pct(s, 95),
        "p99": _pct(s, 99),
        "max": s[-1],
        "rps": len(s) / wall_s,
    }


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
    budget_s: float = PHASE_BUDGET_S,
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


def _route_totals(url: str, route: str) -> tuple[float, int]:
    """The server's own latency histogram for ``route``: (sum of seconds, count)."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
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
                fh.write(_event(self.sid, 10_000_000 + self.appended, {"n": self.appended}))
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


# -- SSE ------------------------------------------------------------------------------------


def _event(sid: str, n: int, payload: dict) -> bytes:
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
                line = _event(sid, n + 1, {"n": n, "t_append": time.time()})
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
    path.write_bytes(_event(sid, 1, {"note": "session start"}))
    try:
        return asyncio.run(_sse(url, path, sid))
    finally:
        path.unlink(missing_ok=True)


# -- report ---------------------------------------------------------------------------------


def _row(name: str, value: str, target: str = "", ok: bool | None = None) -> None:
    verdict = "" if ok is None else ("PASS" if ok else "MISS")
    print(f"  {name:52s} {value:>12s}   {target:10s} {verdict}")


def _count(st: dict) -> str:
    if st["n"] == st["planned"]:
        return f"{st['n']} requests"
    return f"{st['n']} of {st['planned']} requests (stopped at the {st['budget_s']:.0f} s budget)"


def _load_rows(label: str, st: dict, target: bool = False) -> None:
    print(f"  {label}: {_count(st)}")
    _row("  p50", f"{st['p50']:.1f} ms")
    if target:
        ok = st["p95"] < P95_TARGET_MS
        _row("  p95", f"{st['p95']:.1f} ms", f"< {P95_TARGET_MS:.0f} ms", ok)
    else:
        _row("  p95", f"{st['p95']:.1f} ms")
    _row("  p99 / max", f"{st['p99']:.1f} / {st['max']:.0f} ms")
    _row("  throughput", f"{st['rps']:.1f} req/s")
    _row("  CPU per request: server / load generator", _cpu(st))


def _cpu(st: dict) -> str:
    return f"{st['server_cpu_ms']:.1f} / {st['client_cpu_ms']:.1f} ms"


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
    api = f"/api/live/execution/{sid}"
    params = {"limit": LIMIT}
    variants = [v.strip() for v in os.environ.get("BENCH_DASHBOARD_VARIANTS", "cached").split(",")]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variant {unknown[0]!r}; choose from {', '.join(VARIANTS)}")
    if variants == ["cached"]:
        shipped(data_dir, path, sid, events, api, params)
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
        conc = load(server, api, params, CLIENTS, REQUESTS_PER_CLIENT)
        with Appender(path, sid, APPEND_RATE):
            growing = load(server, api, params, CLIENTS, GROWING_REQUESTS_PER_CLIENT)
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
        before = _route_totals(url, TIMELINE_ROUTE)
        conc = load(server, api, params, CLIENTS, REQUESTS_PER_CLIENT)
        after = _route_totals(url, TIMELINE_ROUTE)
        with Appender(path, sid, APPEND_RATE) as appender:
            growing = load(server, api, params, CLIENTS, GROWING_REQUESTS_PER_CLIENT)
        health = load(server, "/healthz", {}, CLIENTS, REQUESTS_PER_CLIENT)
        sse, lost = sse_latency(url, data_dir)

    server_ms = (after[0] - before[0]) / max(1, after[1] - before[1]) * 1000
    print(f"  response body limit={LIMIT}: {body_kb:.0f} KiB; every response 200")
    print(f"  {'figure':52s} {'measured':>12s}   {'target':10s} result")
    _row("cold first request (full summary scan)", f"{cold:.0f} ms")
    print(f"  1 client, back to back, limit={LIMIT}: {_count(seq)}")
    _row("  p50 / p95", f"{seq['p50']:.1f} / {seq['p95']:.1f} ms")
    _row("  CPU per request: server / load generator", _cpu(seq))
    _load_rows(f"{CLIENTS} clients, back to back, limit={LIMIT}", conc, True)
    _row("  server-side mean (middleware histogram)", f"{server_ms:.1f} ms")
    _load_rows(
        f"{CLIENTS} clients, session growing by {APPEND_RATE} events/s "
        f"({appender.appended} appended)",
        growing,
        True,
    )
    _load_rows(f"{CLIENTS} clients, back to back, /healthz (server floor)", health)
    _row("p95 ratio timeline / healthz", f"{conc['p95'] / health['p95']:.1f} x")
    if sse:
        s = sorted(sse)
        print(f"  SSE append -> client, poll {POLL_INTERVAL_S * 1000:.0f} ms: {len(s)} events")
        _row("  median / p95", f"{_pct(s, 50):.1f} / {_pct(s, 95):.1f} ms")
        ok = s[-1] < SSE_TARGET_MS and not lost
        _row("  max", f"{s[-1]:.1f} ms", f"< {SSE_TARGET_MS:.0f} ms", ok)
    if lost or not sse:
        _row("SSE events never received", f"{lost} / {SSE_EVENTS}", "0", False)


if __name__ == "__main__":
    main()
