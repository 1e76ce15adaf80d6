"""``telemetry-collect``: run the collector (the Redis stream -> the JSONL archive).

Settings come from ``[execution.telemetry.redis]`` and ``[execution.telemetry.collector]``
(the archive uses the ``rotation`` and ``fsync`` of ``[execution.telemetry]``); flags win
over the environment, which wins over the file.

Exit codes: 0 stopped by SIGTERM or SIGINT; 1 an unexpected error (logged); 3 it cannot start
as asked: a bad flag or setting (one line naming it), or the ``redis`` package is missing.
"""

from __future__ import annotations

import argparse
import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from src.cli.common import Parser, fail
from src.streaming.cli_support import (
    add_log_level,
    add_stream_args,
    config_with,
    setup_logging,
    stop_on_signals,
)

if TYPE_CHECKING:
    from src.streaming.config import CollectorConfig

__all__ = ["main"]

# flag -> dotted config key
_FLAGS = {
    "redis_url": "execution.telemetry.redis.url",
    "stream": "execution.telemetry.redis.stream",
    "archive": "execution.telemetry.collector.archive_path",
    "group": "execution.telemetry.collector.group",
    "consumer": "execution.telemetry.collector.consumer",
    "batch_size": "execution.telemetry.collector.batch_size",
    "block_ms": "execution.telemetry.collector.block_ms",
    "claim_idle_ms": "execution.telemetry.collector.claim_idle_ms",
    "fsync": "execution.telemetry.fsync",
    "rotation": "execution.telemetry.rotation",
}


def _parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="telemetry-collect",
        description="Archive the Redis event stream into per-session JSONL files.",
    )
    add_stream_args(p)
    p.add_argument("--archive", help="archive directory")
    p.add_argument("--group", help="consumer group")
    p.add_argument("--consumer", help="consumer name (default: host name)")
    p.add_argument("--batch-size", type=int, help="entries per read")
    p.add_argument("--block-ms", type=int, help="how long one read waits for new entries")
    p.add_argument("--claim-idle-ms", type=int, help="claim others' entries pending this long")
    p.add_argument("--fsync", help="archive fsync policy: none | interval | always")
    p.add_argument("--rotation", help="archive layout: none | daily")
    p.add_argument(
        "--from-now", action="store_true",
        help="a group created now skips what the stream already holds (default: archive it)",
    )  # fmt: skip
    add_log_level(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logging(args.log_level)
    from src.common.config import ConfigError
    from src.streaming.config import load_collector_config

    try:
        flags = {key: getattr(args, f) for f, key in _FLAGS.items()}
        config = config_with(args.config, flags)
        given = {k: v for k, v in flags.items() if v is not None}
        c = load_collector_config(args.config, overrides=given)
        collector = _build(config.telemetry, c, start_id="$" if args.from_now else "0")
    except ImportError as exc:
        return fail(str(exc))
    except (ConfigError, ValueError) as exc:
        return fail(str(exc))
    stop = threading.Event()
    try:
        with stop_on_signals(stop):
            collector.run(stop)
    except Exception as exc:
        logging.getLogger("src.streaming.collector").error(
            "collector failed: %s", collector._err(exc)
        )
        return 1
    finally:
        collector.close()
    return 0


def _build(telemetry: Any, c: CollectorConfig, *, start_id: str) -> Any:
    from src.streaming.collector import Collector

    redis = telemetry.redis
    return Collector(
        redis.url,
        archive_path=c.archive_path,
        stream=redis.stream,
        group=c.group,
        consumer=c.consumer or None,
        batch_size=c.batch_size,
        block_ms=c.block_ms,
        claim_idle_ms=c.claim_idle_ms,
        start_id=start_id,
        dedup_capacity=c.dedup_capacity,
        dedup_tail_bytes=c.dedup_tail_bytes,
        rotation=telemetry.rotation,
        fsync=telemetry.fsync,
        fsync_interval=telemetry.fsync_interval_s,
        backoff_max=redis.backoff_max_s,
    )


if __name__ == "__main__":
    raise SystemExit(main())
