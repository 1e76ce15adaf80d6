"""The main job: a simulated paper-trading session that writes live telemetry.

A seeded random walk drives prices for a few symbols; a small mean-reversion strategy
turns price moves into intents (market and limit); the configured gates and the paper
executor handle them, and every step lands in ``logs/execution/<session>.jsonl``.
Now and then the strategy quotes a stale price or an oversized order, so blocked gates
show up in the telemetry as they would in real life.
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from src.cli.common import (
    EXIT_FAILED,
    EXIT_INPUT,
    Parser,
    fail,
    non_negative_float,
    port_number,
)
from src.common.extras import needs_extras
from src.execution import (
    ExecutionPipeline,
    KillSwitchGate,
    MaxNotionalGate,
    OrderIntent,
    PaperExecutor,
    PriceSanityGate,
)
from src.execution.config import ConfigError, ExecutionConfig, load_config
from src.execution.session_ids import validate_session_id
from src.execution.telemetry import build_emitter

__all__ = ["build_pipeline", "main", "run_session"]

SYMBOLS = {"BTC-USD": 100_000.0, "ETH-USD": 3_500.0, "SOL-USD": 150.0}


def build_pipeline(config: ExecutionConfig, emitter: object) -> ExecutionPipeline:
    """The pipeline the demo (and a real paper deployment) runs: configured gates + paper fills."""
    gates = [
        KillSwitchGate(config.gates.kill_switch_file or None),
        PriceSanityGate(config.gates.price_sanity_max_deviation_bps),
        MaxNotionalGate(config.gates.max_notional),
    ]
    executor = PaperExecutor(config.paper.slippage_bps, config.paper.fee_bps)
    return ExecutionPipeline(executor=executor, emitter=emitter, gates=gates, mode=config.mode)


def run_session(
    pipeline: ExecutionPipeline,
    session_id: str,
    *,
    ticks: int,
    interval: float,
    seed: int,
    stop: threading.Event | None = None,
) -> Counter[str]:
    """Drive ``ticks`` price updates through the strategy; return result counts by status."""
    rng = random.Random(seed)
    prices = dict(SYMBOLS)
    anchors = dict(SYMBOLS)
    outcomes: Counter[str] = Counter()
    stop = stop or threading.Event()
    for tick in range(ticks):
        if stop.is_set():
            break
        for symbol in prices:
            prices[symbol] *= 1 + rng.gauss(0, 0.0015)
            pipeline.update_price(symbol, prices[symbol])
        symbol = rng.choice(list(prices))
        price = prices[symbol]
        deviation = price / anchors[symbol] - 1
        anchors[symbol] = 0.98 * anchors[symbol] + 0.02 * price
        if abs(deviation) < 0.001 and rng.random() > 0.15:
            if interval:
                stop.wait(interval)
            continue
        side = "sell" if deviation > 0 else "buy"
        notional = rng.choice([5_000, 10_000, 25_000, 50_000])
        quoted = price
        roll = rng.random()
        if roll < 0.03:
            quoted = price * (1.08 if rng.random() < 0.5 else 0.92)  # a stale quote
        elif roll < 0.06:
            notional = 400_000  # fat finger
        quantity = round(notional / price, 6)
        if rng.random() < 0.3:
            offset = 0.0008 if side == "buy" else -0.0008
            intent = OrderIntent(
                symbol=symbol,
                side=side,
                quantity=quantity,
                current_price=quoted,
                order_type="limit",
                limit_price=round(price * (1 - offset), 2),
                strategy_key="mean_revert_v1",
                session_id=session_id,
            )
        else:
            intent = OrderIntent(
                symbol=symbol,
                side=side,
                quantity=quantity,
                current_price=quoted,
                strategy_key="mean_revert_v1",
                session_id=session_id,
            )
        outcomes[pipeline.submit_order(intent).status] += 1
        if tick and tick % 50 == 0:
            outcomes["ticks"] = tick
        if interval:
            stop.wait(interval)
    return outcomes


def _parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="telemetry-demo",
        description="Run a simulated paper-trading session that writes execution telemetry.",
    )
    p.add_argument("--session", help="session id (default: demo-<UTC time>)")
    p.add_argument("--ticks", type=int, default=600, help="price updates to simulate (600)")
    p.add_argument(
        "--interval", type=non_negative_float, default=0.02, help="seconds between ticks (0.02)"
    )
    p.add_argument("--seed", type=int, default=7, help="random seed (7)")
    p.add_argument("--config", help="config file (default: config/execution.toml)")
    p.add_argument("--base-path", help="telemetry directory (overrides the config)")
    p.add_argument(
        "--dashboard",
        action="store_true",
        help="also serve the live dashboard; keeps serving after the session until Ctrl-C",
    )
    p.add_argument("--host", default="127.0.0.1", help="dashboard address (127.0.0.1)")
    p.add_argument("--port", type=port_number, default=8000, help="dashboard port (8000)")
    p.add_argument(
        "--no-alerts",
        action="store_true",
        help="with --dashboard: do not run the alert engine next to the session",
    )
    p.add_argument(
        "--exit-when-done",
        action="store_true",
        help="with --dashboard: stop serving when the session ends",
    )
    return p


@needs_extras("dashboard")
def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    session_id = args.session or "demo-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    try:
        validate_session_id(session_id)
        overrides = {"execution.telemetry.base_path": args.base_path} if args.base_path else {}
        config = load_config(args.config, overrides=overrides)
        alerts_config = None
        if args.dashboard and not args.no_alerts:
            from src.alerts.config import load_alerts_config

            alerts_config = load_alerts_config(args.config)  # a bad setting: exit 3 at once
        if args.ticks < 0 or args.interval < 0:
            raise ValueError("--ticks and --interval must be >= 0")
        emitter = build_emitter(config)
        pipeline = build_pipeline(config, emitter)
    except (ConfigError, ValueError) as exc:
        return fail(str(exc))
    log_file = Path(config.telemetry.base_path) / f"{session_id}.jsonl"
    if config.telemetry.rotation == "daily":
        log_file = Path(config.telemetry.base_path) / "<YYYY-MM-DD>" / f"{session_id}.jsonl"
    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    dashboard = alerts = None
    try:
        print(f"session {session_id}: writing telemetry to {log_file}", flush=True)
        print(f"  follow it live: tail -f {log_file}", flush=True)
        # The live page's URL is the last line of the start-up output (what `make demo` ends on).
        if alerts_config is not None:
            from src.demo.alerts import start_alerts

            try:
                alerts = start_alerts(alerts_config, config.telemetry.base_path)
                print("alerts: evaluated every 2 s, shown on the dashboard", flush=True)
            except ValueError as exc:
                print(f"alerts: not running ({exc})", file=sys.stderr, flush=True)
        if args.dashboard:
            from src.demo.dashboard import start_dashboard

            try:
                dashboard = start_dashboard(config.telemetry.base_path, args.host, args.port)
            except (ValueError, OSError) as exc:
                emitter.close()
                return fail(str(exc), EXIT_INPUT if isinstance(exc, ValueError) else EXIT_FAILED)
            print(f"dashboard: {dashboard.url}/live/execution/{session_id}", flush=True)
        started = time.monotonic()
        try:
            outcomes = run_session(
                pipeline,
                session_id,
                ticks=args.ticks,
                interval=args.interval,
                seed=args.seed,
                stop=stop,
            )
        finally:
            emitter.close()
        _report(outcomes, started, emitter, pipeline)
        if dashboard is not None and not args.exit_when_done and not stop.is_set():
            print("session finished; the dashboard keeps serving. Ctrl-C to stop.", flush=True)
            stop.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
        if alerts is not None:
            alerts.stop()
        if dashboard is not None:
            dashboard.stop()
    return 0


def _report(
    outcomes: Counter[str], started: float, emitter: object, pipeline: ExecutionPipeline
) -> None:
    outcomes.pop("ticks", None)
    summary = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())) or "no intents"
    print(f"done in {time.monotonic() - started:.1f}s: {summary}")
    stats = emitter.stats  # type: ignore[attr-defined]
    print(
        f"telemetry: {stats.emitted} events written, {stats.errors} errors, "
        f"{stats.dropped} dropped, {pipeline.telemetry_errors} pipeline telemetry errors",
        flush=True,
    )


if __name__ == "__main__":
    raise SystemExit(main())
