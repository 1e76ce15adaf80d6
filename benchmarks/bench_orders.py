"""The order blotter's speed: the open-orders query and the orders API, against the
timeline in the same run.

Target (issue 15, "Tests and figures"): on a 1M-event session with 1,000 working orders,
the orders API's p95 at 20 concurrent clients within 2x of the timeline endpoint's
(``/api/live/execution/{id}?limit=200``), both served by one real uvicorn server (its own
process, as ``telemetry-dashboard`` runs it) in the same run. Measured:

* query layer, in this process: the first open-orders page (the book folds the whole
  session once; next to it a full summary of the session, what the dashboard's first
  request scans), then the warm page (``status=open``, 50 rows) against the timeline's own
  warm read (:class:`~src.query.head.LiveHead`, the newest 200 events), called alternately;
  the same two while 20 lines are appended before every call (so both read the new bytes);
  one order's chain; the memory the book keeps;
* API: the cold first orders request; a short warm-up of both (not reported); then 20
  clients back to back (closed loop) on the timeline and on the open-orders page,
  alternating, three times each (the ratio compares the median p95s); then the same two while
  the session grows by ``APPEND_RATE`` events/s. Each phase stops after a time budget
  (``$BENCH_ORDERS_PHASE_S``, default 15 s).

The session is generated once (``$BENCH_DATA_DIR``, default
``/tmp/execution-telemetry-bench``) in the logger's line format: per order an intent, two
gate decisions, the order, an ack and then a fill, a partial fill and a fill, a cancel or a
reject (some intents are blocked by a gate); exactly 1,000 limit orders, spread over the
session, stay working.
"""

from __future__ import annotations

import gc
import os
import platform
import random
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx2 as httpx
import orjson

from benchmarks._load import APPEND_RATE, CLIENTS, Appender, load, phase_count
from benchmarks._report import row
from benchmarks._server import DashboardServer
from benchmarks._sessions import DEFAULT_DATA_DIR, START_US, _count_lines, _format_ok, _Writer
from benchmarks._timing import paired
from src.query.engine import summarize
from src.query.filters import EventFilter
from src.query.head import LiveHead
from src.query.orders import OrderBook, OrderQuery

GEN_VERSION = 2
EVENTS = 1_000_000
WORKING = 1_000
WORKING_EVERY = 150  # one working order per this many orders, until WORKING of them
LIMIT_TIMELINE = 200
LIMIT_ORDERS = 50
PHASE_BUDGET_S = float(os.environ.get("BENCH_ORDERS_PHASE_S", "15"))
REQUESTS_PER_CLIENT = int(os.environ.get("BENCH_ORDERS_REQUESTS", "100"))
QUERY_CALLS = 300
APPENDED_PER_CALL = 20
TARGET_RATIO = 2.0
ROUNDS = 3  # load phases per endpoint, alternating; the ratio compares the median p95s


def session_id() -> str:
    return f"bench-orders-v{GEN_VERSION}-1m"


def _generate(path: Path) -> int:
    """Write the session; the number of working orders in it."""
    rng = random.Random(f"bench-orders-{GEN_VERSION}")
    dumps = orjson.dumps
    tmp = path.with_name(f".{path.name}.partial")
    working = 0
    with open(tmp, "wb") as fh:
        w = _Writer(fh, session_id(), f"{rng.getrandbits(48):012x}", EVENTS)
        t = START_US
        n = 0
        while not w.full():
            if EVENTS - w.written < 8:  # no room for a whole order: no half order at the end
                t += 1_000
                w.emit(t, "BTC-USD", "error", dumps({"error": "end of run", "stage": "strategy"}))
                continue
            n += 1
            t += rng.randint(20_000, 120_000)
            sym, price = ("BTC-USD", 100_000.0) if n % 2 else ("ETH-USD", 3_500.0)
            side = "buy" if rng.random() < 0.5 else "sell"
            qty = rng.choice((0.01, 0.05, 0.1, 0.5))
            works = n % WORKING_EVERY == 7 and working < WORKING
            iid, cid = w.new_id("int"), w.new_id("ord")
            limit = round(price * (0.97 if side == "buy" else 1.03), 2) if works else None
            w.emit(t, sym, "intent", dumps({
                "intent_id": iid, "side": side, "quantity": qty, "current_price": price,
                "order_type": "limit" if works else "market", "limit_price": limit,
            }))  # fmt: skip
            r = rng.random()
            blocked = r < 0.04 and not works
            w.emit(t + 20, sym, "gate", dumps({
                "intent_id": iid, "gate_name": "KillSwitch", "passed": True,
                "reason": "not engaged",
            }))  # fmt: skip
            w.emit(t + 40, sym, "gate", dumps({
                "intent_id": iid, "gate_name": "MaxNotional", "passed": not blocked,
                "reason": "notional over limit" if blocked else "ok",
            }))  # fmt: skip
            if blocked:
                continue
            ids = {"client_id": cid, "intent_id": iid, "side": side}
            w.emit(t + 60, sym, "order", dumps({
                **ids, "quantity": qty, "order_type": "limit" if works else "market",
                "limit_price": limit, "time_in_force": "GTC",
            }))  # fmt: skip
            if r < 0.06 and not works:
                w.emit(t + 900, sym, "reject", dumps({**ids, "reason": "insufficient balance"}))
                continue
            w.emit(t + 1_500, sym, "ack", dumps({**ids, "order_id": f"v{n}"}))
            if works:
                working += 1
                continue
            px = round(price * (1 + rng.gauss(0, 2e-4)), 2)
            if r < 0.09:
                w.emit(t + 2_000, sym, "cancel", dumps({
                    **ids, "reason": "cancel requested", "filled_quantity": 0.0,
                    "remaining_quantity": qty,
                }))  # fmt: skip
                continue
            if r < 0.12:
                half = qty / 2
                w.emit(t + 2_500, sym, "partial_fill", dumps({
                    **ids, "filled_quantity": half, "fill_price": px, "fill_notional": half * px,
                    "fill_fee": half * px * 1e-4, "reference_price": price,
                    "cumulative_quantity": half, "remaining_quantity": half,
                }))  # fmt: skip
            w.emit(t + 3_000, sym, "fill", dumps({
                **ids, "filled_quantity": qty, "fill_price": px, "fill_notional": qty * px,
                "fill_fee": qty * px * 1e-4, "reference_price": price,
            }))  # fmt: skip
        w.flush()
    os.replace(tmp, path)
    return working


def ensure_session(data_dir: Path) -> tuple[Path, float | None]:
    path = data_dir / f"{session_id()}.jsonl"
    if path.is_file() and _count_lines(path) == EVENTS and _format_ok(path):
        return path, None
    t0 = time.perf_counter()
    working = _generate(path)
    took = time.perf_counter() - t0
    if working != WORKING or _count_lines(path) != EVENTS or not _format_ok(path):
        raise RuntimeError(f"generated {path}: {working} working orders, not {WORKING}")
    return path, took


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


class _Appended:
    """Blocks of whole orders (intent, gate, order, ack, fill) with new ids, as a live
    session grows: they end filled, so the working orders stay the same 1,000."""

    KINDS = (
        ("intent", b'"intent_id": "bi%d", "side": "buy", "quantity": 0.1, "current_price": 100.0'),
        ("gate", b'"intent_id": "bi%d", "gate_name": "KillSwitch", "passed": true'),
        ("order", b'"client_id": "bc%d", "intent_id": "bi%d", "side": "buy", "quantity": 0.1'),
        ("ack", b'"client_id": "bc%d", "intent_id": "bi%d"'),
        ("fill", b'"client_id": "bc%d", "intent_id": "bi%d", "filled_quantity": 0.1, '
                 b'"fill_price": 100.0'),
    )  # fmt: skip

    def __init__(self, sid: str) -> None:
        self.sid = sid.encode()
        self.n = 0

    def block(self) -> bytes:
        out = []
        for _ in range(APPENDED_PER_CALL // len(self.KINDS)):
            self.n += 1
            for kind, payload in self.KINDS:
                body = payload % ((self.n,) * payload.count(b"%d"))
                out.append(
                    b'{"ts": "2025-12-21T00:00:00+00:00", "session_id": "%b", "symbol": '
                    b'"BTC-USD", "mode": "live", "kind": "%b", "payload": {%b}}\n'
                    % (self.sid, kind.encode(), body)
                )
        return b"".join(out)


def bench_query(base: Path, path: Path) -> dict[str, float]:
    sid = session_id()
    query = OrderQuery.build(status="open", limit=LIMIT_ORDERS)
    gc.collect()
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    book = OrderBook(base, sid)
    page = book.page(query)
    cold = time.perf_counter() - t0
    gc.collect()
    kept_mb = _rss_mb() - rss0
    t0 = time.perf_counter()
    summary = summarize(base, EventFilter.build(session_id=sid))
    summary_s = time.perf_counter() - t0
    assert summary.event_count == EVENTS, summary.event_count
    assert page.counts["open"] == WORKING, page.counts
    assert len(page.orders) == LIMIT_ORDERS and all(r.status == "open" for r in page.orders)
    head = LiveHead(base, EventFilter.build(session_id=sid), LIMIT_TIMELINE, lambda r: r)
    head.refresh()
    orders_t, timeline_t = paired(lambda: book.page(query), head.refresh, QUERY_CALLS, warmup=20)
    chain_order = page.orders[-1].id
    chains = [0.0] * 50
    for i in range(len(chains)):
        t1 = time.perf_counter()
        assert book.chain(chain_order) is not None
        chains[i] = (time.perf_counter() - t1) * 1e6
    size = path.stat().st_size
    appended = _Appended(sid)
    try:
        with open(path, "ab", buffering=0) as fh:

            def grown_orders() -> None:
                fh.write(appended.block())
                book.page(query)

            def grown_timeline() -> None:
                fh.write(appended.block())
                head.refresh()

            g_orders, g_timeline = paired(grown_orders, grown_timeline, QUERY_CALLS, warmup=5)
    finally:
        os.truncate(path, size)
    return {
        "cold_s": cold,
        "summary_s": summary_s,
        "kept_mb": kept_mb,
        "ended_kept": book.fold.ended_kept,
        "orders_us": orders_t.median_us,
        "orders_p99_us": orders_t.p99_us,
        "timeline_us": timeline_t.median_us,
        "timeline_p99_us": timeline_t.p99_us,
        "g_orders_us": g_orders.median_us,
        "g_timeline_us": g_timeline.median_us,
        "chain_us": statistics.median(chains),
    }


def bench_api(base: Path, path: Path) -> dict[str, object]:
    sid = session_id()
    timeline = (f"/api/live/execution/{sid}", {"limit": LIMIT_TIMELINE})
    orders = (f"/api/live/execution/{sid}/orders", {"status": "open", "limit": LIMIT_ORDERS})
    out: dict[str, object] = {}
    with DashboardServer(base) as server:
        out["pid"] = server.proc.pid if server.proc else 0
        t0 = time.perf_counter()
        r = httpx.get(f"{server.url}{orders[0]}", params=orders[1], timeout=300)
        out["cold_ms"] = (time.perf_counter() - t0) * 1000
        body = r.json()
        assert r.status_code == 200 and body["counts"]["open"] == WORKING, r.text[:300]
        assert len(body["orders"]) == LIMIT_ORDERS
        out["orders_kib"] = len(r.content) / 1024
        r = httpx.get(f"{server.url}{timeline[0]}", params=timeline[1], timeout=300)
        assert r.status_code == 200 and r.json()["count"] == LIMIT_TIMELINE
        out["timeline_kib"] = len(r.content) / 1024
        for route, params in (timeline, orders):  # warm-up, not reported: the first phase
            load(server, route, params, CLIENTS, 10, 5.0)  # after a cold fold has GC pauses
        runs: dict[str, list[dict]] = {"timeline": [], "orders": []}
        for _ in range(ROUNDS):
            for name, (route, params) in (("timeline", timeline), ("orders", orders)):
                runs[name].append(
                    load(server, route, params, CLIENTS, REQUESTS_PER_CLIENT, PHASE_BUDGET_S)
                )
        out["runs"] = runs
        grow: dict[str, dict] = {}
        for name, (route, params) in (("timeline", timeline), ("orders", orders)):
            with Appender(path, sid, APPEND_RATE):
                grow[name] = load(
                    server, route, params, CLIENTS, REQUESTS_PER_CLIENT, PHASE_BUDGET_S
                )
        out["growing"] = grow
    return out


def _p95s(runs: list[dict]) -> str:
    return " / ".join(f"{st['p95']:.1f}" for st in runs) + " ms"


def main() -> None:
    data_dir = Path(os.environ.get("BENCH_DATA_DIR") or DEFAULT_DATA_DIR)
    base = data_dir / "orders"  # its own log root: the server lists only this session
    base.mkdir(parents=True, exist_ok=True)
    print(
        f"== orders benchmark ({platform.python_implementation()} "
        f"{platform.python_version()}, {datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} CPUs, "
        f"data in {base}) =="
    )
    path, took = ensure_session(base)
    how = "cached" if took is None else f"generated in {took:.1f} s"
    print(
        f"  session: {EVENTS:,} events, {WORKING:,} working orders, "
        f"{path.stat().st_size / 1e6:.1f} MB ({how})"
    )
    q = bench_query(base, path)
    print(f"  {'query layer (this process)':52s} {'measured':>12s}   {'target':10s} result")
    row("first open-orders page (folds the whole session)", f"{q['cold_s']:.2f} s")
    row("  a full summary of the session (the dashboard's first scan)",
         f"{q['summary_s']:.2f} s")  # fmt: skip
    row("  ratio", f"{q['cold_s'] / q['summary_s']:.1f} x")
    row("  memory the book keeps (RSS growth)", f"{q['kept_mb']:.0f} MB")
    row("  ended orders kept in memory", f"{q['ended_kept']:,}")
    row(f"warm open-orders page ({LIMIT_ORDERS} rows), median", f"{q['orders_us']:.0f} us")
    row(f"  timeline's warm newest {LIMIT_TIMELINE} (LiveHead), median",
         f"{q['timeline_us']:.0f} us")  # fmt: skip
    row("  ratio orders / timeline", f"{q['orders_us'] / q['timeline_us']:.2f} x")
    row(f"{APPENDED_PER_CALL} lines appended per call: open-orders page",
         f"{q['g_orders_us']:.0f} us")  # fmt: skip
    row("  timeline's newest page", f"{q['g_timeline_us']:.0f} us")
    row("  ratio orders / timeline", f"{q['g_orders_us'] / q['g_timeline_us']:.2f} x")
    row("one order's chain (warm), median", f"{q['chain_us']:.0f} us")

    a = bench_api(base, path)
    runs, grow = a["runs"], a["growing"]
    assert isinstance(runs, dict) and isinstance(grow, dict)
    print(f"  API, uvicorn in pid {a['pid']}, {CLIENTS} clients back to back")
    row("cold first orders request", f"{a['cold_ms']:.0f} ms")
    row("bodies: timeline limit=200 / open orders limit=50",
         f"{a['timeline_kib']:.0f} / {a['orders_kib']:.0f} KiB")  # fmt: skip
    for name in ("timeline", "orders"):
        print(f"  {name}: {', '.join(phase_count(st) for st in runs[name])}")
        row("  p95 (each run)", _p95s(runs[name]))
        row("  p50 (first run)", f"{runs[name][0]['p50']:.1f} ms")
        row("  CPU per request, server", f"{runs[name][0]['server_cpu_ms']:.1f} ms")
    t95 = statistics.median([st["p95"] for st in runs["timeline"]])
    o95 = statistics.median([st["p95"] for st in runs["orders"]])
    ratio = o95 / t95
    row("p95 ratio orders / timeline", f"{ratio:.2f} x", f"<= {TARGET_RATIO:.0f} x",
         ratio <= TARGET_RATIO)  # fmt: skip
    print(f"  growing by {APPEND_RATE} events/s:")
    for name in ("timeline", "orders"):
        row(f"  {name} p95 ({phase_count(grow[name])})", f"{grow[name]['p95']:.1f} ms")
    g = grow["orders"]["p95"] / grow["timeline"]["p95"]
    row("  p95 ratio orders / timeline", f"{g:.2f} x", f"<= {TARGET_RATIO:.0f} x",
         g <= TARGET_RATIO)  # fmt: skip


if __name__ == "__main__":
    main()
