"""The main job: a simulated paper-trading session that writes live telemetry.

A seeded random walk drives prices for a few symbols; a small mean-reversion strategy
(:mod:`src.demo.strategy`) turns price moves into intents of every kind: market and limit,
GTC, IOC, DAY and expiring ones; the configured gates and the paper venue (with its own
rules: a price band, a cash balance, fills in pieces) handle them, and every step lands in
``logs/execution/<session>.jsonl``. The strategy cancels resting limits after a while, the
pipeline expires what runs out of time, and when the session ends every order still working
is cancelled, so a finished session has no order left waiting for a fill.
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
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
from src.demo.strategy import SYMBOLS, MeanReversion, SessionClock
from src.execution import (
    ExecutionPipeline,
    KillSwitchGate,
    MaxNotionalGate,
    PaperExecutor,
    PriceSanityGate,
)
from src.execution.config import ConfigError, ExecutionConfig, load_config
from src.execution.session_ids import validate_session_id
from src.execution.telemetry import build_emitter

__all__ = ["DEMO_VENUE", "SYMBOLS", "build_pipeline", "main", "run_session"]

# The demo venue's rules (PaperExecutor): limits more than 1% from the market are rejected,
# buys need cash (sells bring it back), and each execution fills at most 30,000 of notional.
DEMO_VENUE: Mapping[str, float] = {
    "price_band_bps": 100.0,
    "balance": 1_000_000.0,
    "max_fill_notional": 30_000.0,
}
# The session clock moves at least this much per tick, so a run without pauses (tests,
# --interval 0) still lives through its orders' expiries, tick for tick like a paced one.
MIN_TICK_S = 0.05


def build_pipeline(
    config: ExecutionConfig,
    emitter: object,
    *,
    venue: Mapping[str, float] | None = None,
    clock: Callable[[], float] | None = None,
) -> ExecutionPipeline:
    """The pipeline the demo (and a real paper deployment) runs: configured gates + paper
    fills; ``venue``: the paper venue's rules (:class:`PaperExecutor`'s keyword arguments)."""
    gates = [
        KillSwitchGate(config.gates.kill_switch_file or None),
        PriceSanityGate(config.gates.price_sanity_max_deviation_bps),
        MaxNotionalGate(config.gates.max_notional),
    ]
    executor = PaperExecutor(config.paper.slippage_bps, config.paper.fee_bps, **(venue or {}))
    return ExecutionPipeline(
        executor=executor,
        emitter=emitter,  # type: ignore[arg-type]
        gates=gates,
        mode=config.mode,
        clock=clock,
    )


def run_session(
    pipeline: ExecutionPipeline,
    session_id: str,
    *,
    ticks: int,
    interval: float,
    seed: int,
    stop: threading.Event | None = None,
    clock: SessionClock | None = None,
) -> Counter[str]:
    """Drive ``ticks`` price updates through the strategy; return result counts by status,
    plus ``cancelled`` (by the strategy) and ``cancelled at end`` (still working when the
    session ended). ``clock``: the pipeline's clock, moved one tick (at least
    :data:`MIN_TICK_S`) per tick; without one, orders expire on real time."""
    strategy = MeanReversion(session_id, random.Random(seed))
    outcomes: Counter[str] = Counter()
    stop = stop or threading.Event()
    cancel_at: dict[str, int] = {}  # client id -> the tick the strategy cancels it
    try:
        for tick in range(ticks):
            if stop.is_set():
                break
            if clock is not None:
                clock.advance(max(interval, MIN_TICK_S))
            for symbol, price in strategy.move_prices().items():
                pipeline.update_price(symbol, price)
            pipeline.expire_orders()
            for client_id in [c for c, due in cancel_at.items() if due <= tick]:
                del cancel_at[client_id]
                if pipeline.cancel_order(client_id, reason="strategy: resting too long"):
                    outcomes["cancelled"] += 1
            decided = strategy.decide()
            if decided.intent is not None:
                result = pipeline.submit_order(decided.intent)
                outcomes[result.status] += 1
                if result.status == "open" and decided.cancel_after_ticks is not None:
                    assert result.order is not None
                    cancel_at[result.order.client_id] = tick + decided.cancel_after_ticks
            if tick and tick % 50 == 0:
                outcomes["ticks"] = tick
            if interval:
                stop.wait(interval)
    finally:
        for order in pipeline.working_orders:  # nothing is left waiting for a fill
            if pipeline.cancel_order(order.client_id, reason="session ended"):
                outcomes["cancelled at end"] += 1
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
        clock = SessionClock()
        pipeline = build_pipeline(config, emitter, venue=DEMO_VENUE, clock=clock)
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
                clock=clock,
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
