"""Generated benchmark sessions: realistic JSONL logs of 1K, 1M and 5M events, cached.

Lines are written directly (the trading pipeline is far too slow for millions of events) in
exactly the logger's line format; every generated file is spot-checked against
``encode_event_line``. Files are cached under ``$BENCH_DATA_DIR`` (default
``/tmp/execution-telemetry-bench``) and reused while their line count and format match.
"""

from __future__ import annotations

import heapq
import itertools
import os
import random
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson

from src.execution.events import ExecutionEvent
from src.execution.serialization import encode_event_line

GEN_VERSION = 1  # bump when the generated content changes: old caches are then ignored
SIZES = {"1k": 1_000, "1m": 1_000_000, "5m": 5_000_000}
DEFAULT_DATA_DIR = "/tmp/execution-telemetry-bench"
REPO_ROOT = Path(__file__).resolve().parent.parent


# -- session generation -------------------------------------------------------------------

START_US = int(datetime(2025, 12, 20, tzinfo=UTC).timestamp()) * 1_000_000
MONO_BASE_NS = 7_412_305_118_417
# 5M events of ~6 per round trip spread over one UTC day: one intent every ~100 ms.
MEAN_GAP_US = 100_000
MAX_NOTIONAL = 250_000.0
MAX_DEVIATION_BPS = 500.0
SLIPPAGE_BPS = 2.0
FEE_BPS = 1.0
BLOCK_NOTIONAL = 0.04  # share of intents MaxNotional blocks (3 gate events)
BLOCK_PRICE = 0.01  # share PriceSanity blocks (2 gate events): ~5% blocked in all
PARTIAL_FILLS = 0.03  # share of filled orders filled in two parts
OPEN_ORDER_EVERY = 50_000  # one resting limit order that never fills per this many intents
SYMBOLS = (
    ("BTC-USD", 100_000.0, (0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5)),
    ("ETH-USD", 3_500.0, (0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0)),
    ("SOL-USD", 200.0, (0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0)),
)
STRATEGIES = ("mm_v3", "momentum_1m", "mean_reversion_5m")
FLUSH_LINES = 1 << 16


def session_id(label: str) -> str:
    return f"bench-query-v{GEN_VERSION}-{label}"


class _Writer:
    """Assigns seq, event ids and mono_ns in file order; buffers lines, writes big chunks."""

    def __init__(self, fh, sid: str, prefix: str, limit: int) -> None:
        self.fh, self.sid, self.prefix, self.limit = fh, sid, prefix, limit
        self.written = 0
        self.buf: list[bytes] = []
        self.ids = itertools.count(1)
        self._middles: dict[tuple[str, str], bytes] = {}
        self._sec = -1
        self._sec_text = b""

    def new_id(self, tag: str) -> str:
        return f"{tag}-{self.prefix}-{next(self.ids):x}"

    def full(self) -> bool:
        return self.written >= self.limit

    def emit(self, t_us: int, symbol: str, kind: str, payload: bytes) -> None:
        if self.written >= self.limit:
            return
        middle = self._middles.get((symbol, kind))
        if middle is None:
            middle = self._middles[(symbol, kind)] = (
                b', "session_id": %b, "symbol": %b, "mode": "live", "kind": %b, "payload": '
                % (orjson.dumps(self.sid), orjson.dumps(symbol), orjson.dumps(kind))
            )
        sec, us = divmod(t_us, 1_000_000)
        if sec != self._sec:
            self._sec = sec
            text = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._sec_text = text.encode()
        # isoformat() (and so the logger) leaves the fraction out when it is zero.
        ts = b"%b.%06d+00:00" % (self._sec_text, us) if us else self._sec_text + b"+00:00"
        self.written += 1
        self.buf.append(
            b'{"ts": "%b"%b%b, "seq": %d, "event_id": "evt-%b-%x", "mono_ns": %d}\n'
            % (
                ts,
                middle,
                payload,
                self.written,
                self.prefix.encode(),
                next(self.ids),
                MONO_BASE_NS + (t_us - START_US) * 1000,
            )
        )
        if len(self.buf) >= FLUSH_LINES:
            self.flush()

    def flush(self) -> None:
        self.fh.write(b"".join(self.buf))
        self.buf.clear()


def _generate(path: Path, label: str, lines: int) -> None:
    rng = random.Random(f"bench-query-{GEN_VERSION}-{label}")
    dumps = orjson.dumps
    tmp = path.with_name(f".{path.name}.partial")
    with open(tmp, "wb") as fh:
        w = _Writer(fh, session_id(label), f"{rng.getrandbits(48):012x}", lines)
        prices = {sym: px for sym, px, _ in SYMBOLS}
        pending: list[tuple[int, int, str, bytes]] = []  # fills not yet arrived, by time
        tie = itertools.count()

        def arrive(until_us: int) -> None:
            while pending and pending[0][0] <= until_us:
                t_fill, _, sym, payload = heapq.heappop(pending)
                w.emit(t_fill, sym, "fill", payload)

        def emit(t_us: int, sym: str, kind: str, payload: dict) -> None:
            arrive(t_us)
            w.emit(t_us, sym, kind, dumps(payload))

        t = START_US
        for n in itertools.count():
            if w.full():
                break
            t += max(1, int(rng.expovariate(1.0 / MEAN_GAP_US)))
            sym, _, sizes = SYMBOLS[rng.randrange(len(SYMBOLS))]
            last = prices[sym] = round(prices[sym] * (1 + rng.gauss(0.0, 2e-4)), 2)
            side = "buy" if rng.random() < 0.5 else "sell"
            qty = rng.choice(sizes)
            quoted = round(last * (1 + rng.gauss(0.0, 1.5e-4)), 2)
            resting = n % OPEN_ORDER_EVERY == 17
            r = rng.random()
            block = ""
            if r < BLOCK_NOTIONAL:
                block = "notional"
            elif r < BLOCK_NOTIONAL + BLOCK_PRICE:
                block = "price"
            if block == "notional":
                qty = round(MAX_NOTIONAL * rng.uniform(1.05, 4.0) / last, 3)
            elif block == "price":
                quoted = round(last * (1 + rng.choice((-1, 1)) * rng.uniform(0.06, 0.2)), 2)
            limit_price = None
            if resting:  # a limit far from the market: it rests, never fills
                limit_price = round(last * (0.97 if side == "buy" else 1.03), 2)
            intent_id = w.new_id("int")
            emit(
                t,
                sym,
                "intent",
                {
                    "intent_id": intent_id,
                    "side": side,
                    "quantity": qty,
                    "current_price": quoted,
                    "strategy_key": STRATEGIES[n % len(STRATEGIES)],
                    "order_type": "limit" if resting else "market",
                    "limit_price": limit_price,
                },
            )
            deviation = abs(quoted - last) / last * 10_000
            notional = qty * quoted
            gates = [("KillSwitch", True, "not engaged")]
            if block == "price":
                gates.append(
                    (
                        "PriceSanity",
                        False,
                        f"price {quoted:,.2f} is {deviation:,.0f} bps from last {last:,.2f} "
                        f"(max {MAX_DEVIATION_BPS:,.0f})",
                    )
                )
            else:
                gates.append(("PriceSanity", True, f"{deviation:,.1f} bps from last price"))
                if block == "notional":
                    reason = f"notional {notional:,.2f} exceeds max {MAX_NOTIONAL:,.2f}"
                    gates.append(("MaxNotional", False, reason))
                else:
                    gates.append(("MaxNotional", True, f"notional {notional:,.2f}"))
            for name, passed, reason in gates:
                t += rng.randint(8, 45)
                emit(
                    t,
                    sym,
                    "gate",
                    {"intent_id": intent_id, "gate_name": name, "passed": passed, "reason": reason},
                )
            if block:
                continue
            t += rng.randint(10, 60)
            client_id = w.new_id("ord")
            emit(
                t,
                sym,
                "order",
                {
                    "client_id": client_id,
                    "intent_id": intent_id,
                    "side": side,
                    "quantity": qty,
                    "order_type": "limit" if resting else "market",
                    "limit_price": limit_price,
                },
            )
            if resting:
                continue
            # Exchange round trip: median ~2 ms, a long tail (some arrive after later intents).
            t_fill = t + max(50, int(rng.lognormvariate(7.6, 0.9)))
            parts = [qty]
            if rng.random() < PARTIAL_FILLS:
                first = round(qty * rng.uniform(0.2, 0.8), 6)
                parts = [first, round(qty - first, 8)]
            for part in parts:
                slip = rng.gauss(SLIPPAGE_BPS, 1.5) / 10_000
                price = last * (1 + slip) if side == "buy" else last * (1 - slip)
                price = round(price, 2)
                payload = {
                    "client_id": client_id,
                    "intent_id": intent_id,
                    "side": side,
                    "filled_quantity": part,
                    "fill_price": price,
                    "fill_notional": part * price,
                    "fill_fee": part * price * FEE_BPS / 10_000,
                    "reference_price": last,
                }
                heapq.heappush(pending, (t_fill, next(tie), sym, dumps(payload)))
                t_fill += rng.randint(200, 5_000)
        arrive(1 << 62)
        w.flush()
    os.replace(tmp, path)


def _count_lines(path: Path) -> int:
    count = 0
    with open(path, "rb", buffering=0) as fh:
        while chunk := fh.read(1 << 24):
            count += chunk.count(b"\n")
    return count


def _format_ok(path: Path) -> bool:
    """The first and last lines re-encode byte for byte through the logger's encoder."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 20).split(b"\n")[:-1][:3_000]
        fh.seek(max(0, path.stat().st_size - (1 << 17)))
        tail = fh.read().split(b"\n")[1:-1]
    for line in head + tail:
        event = ExecutionEvent.from_dict(orjson.loads(line))
        if encode_event_line(event) != line + b"\n":
            return False
    return True


def ensure_session(data_dir: Path, label: str) -> tuple[Path, float | None]:
    """The cached session file (generating it when missing or stale); generation seconds."""
    lines = SIZES[label]
    path = data_dir / f"{session_id(label)}.jsonl"
    if path.is_file() and _count_lines(path) == lines and _format_ok(path):
        return path, None
    t0 = time.perf_counter()
    _generate(path, label, lines)
    elapsed = time.perf_counter() - t0
    if _count_lines(path) != lines or not _format_ok(path):
        raise RuntimeError(f"generated {path} does not have {lines} lines in the logger format")
    return path, elapsed


# -- measurements ---------------------------------------------------------------------------
