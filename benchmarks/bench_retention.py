"""Retention on 10,000 session files: dry-run plan and --apply, against a 10 s target.

The retention issue asks for plan + apply on 10,000 session files in under 10 s on this
machine. The root is generated fresh each run (half flat ``<id>.jsonl``, half daily
``YYYY-MM-DD/<id>.jsonl``, 10-40 events each in the logger's exact line format, mtimes
spread evenly over the last 60 days), then retention runs with the runbook's defaults:
max age 30 days, keep last 200, cap 2048 MB, compress after 7 days. So about half the
files are deleted, about 40% compressed and the rest left alone; every file is opened,
recognised and lock-probed.

``BENCH_RETENTION_FILES`` changes the file count; ``BENCH_DATA_DIR`` where it is written.
"""

from __future__ import annotations

import os
import platform
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from src.common.units import human_bytes
from src.execution.events import ExecutionEvent
from src.execution.serialization import encode_event_line
from src.ops.retention.policy import RetentionPolicy
from src.ops.retention.run import run_retention

TARGET_S = 10.0
DAY = 86_400.0


def generate(root: Path, files: int, now: float, seed: int = 7) -> int:
    """Write ``files`` session files under ``root``; returns their total size."""
    rng = random.Random(seed)
    total = 0
    for n in range(files):
        session = f"bench-{n:05d}"
        mtime = now - (n + 0.5) * (60 * DAY / files)
        lines = b"".join(
            encode_event_line(
                ExecutionEvent(
                    ts=datetime.fromtimestamp(mtime - 60 + i, UTC),
                    session_id=session,
                    symbol=rng.choice(("BTC-USD", "ETH-USD", "SOL-USD")),
                    mode="paper",
                    kind=rng.choice(("intent", "gate", "order", "fill")),
                    payload={
                        "client_id": f"ord-{n}-{i}",
                        "intent_id": f"int-{n}-{i}",
                        "side": rng.choice(("buy", "sell")),
                        "quantity": round(rng.uniform(0.01, 2.0), 4),
                        "fill_price": round(rng.uniform(90_000, 110_000), 2),
                    },
                    seq=i,
                )
            )
            for i in range(1, rng.randint(10, 40))
        )
        if n % 2:
            directory = root / time.strftime("%Y-%m-%d", time.gmtime(mtime))
            directory.mkdir(exist_ok=True)
        else:
            directory = root
        path = directory / f"{session}.jsonl"
        path.write_bytes(lines)
        os.utime(path, (mtime, mtime))
        total += len(lines)
    return total


def main() -> None:
    files = int(os.environ.get("BENCH_RETENTION_FILES", "10000"))
    base = Path(os.environ.get("BENCH_DATA_DIR", tempfile.gettempdir()))
    work = Path(tempfile.mkdtemp(prefix="bench-retention-", dir=base))
    root = work / "logs" / "execution"
    root.mkdir(parents=True)
    policy = RetentionPolicy()
    print(f"retention benchmark: {files:,} session files, policy: {policy.describe()}")
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    print(f"  machine: {machine}")
    try:
        now = time.time()
        t0 = time.perf_counter()
        size = generate(root, files, now)
        # Old logs are long on disk in real life: write the generated ones out before timing,
        # so retention's own fsyncs do not pay for the generator's writeback.
        os.sync()
        print(f"  generated {human_bytes(size)} in {time.perf_counter() - t0:.1f} s (not timed)")

        t0 = time.perf_counter()
        dry = run_retention(root, policy, apply=False)
        plan_s = time.perf_counter() - t0
        planned = len(dry.plan.actions)
        print(f"  dry run (scan + plan):   {plan_s:6.2f} s  {planned:,} actions planned")

        t0 = time.perf_counter()
        report = run_retention(root, policy, apply=True)
        apply_s = time.perf_counter() - t0
        done = [o for o in report.outcomes if o.status == "done"]
        deleted = sum(1 for o in done if o.action.kind == "delete")
        compressed = sum(1 for o in done if o.action.kind == "compress")
        print(
            f"  --apply (scan + plan + act): {apply_s:6.2f} s  {deleted:,} deleted, "
            f"{compressed:,} compressed, {report.failed} failed"
        )
        print(
            f"  size {human_bytes(report.plan.size_before)} -> {human_bytes(report.size_after)} "
            f"(measured; plan estimated {human_bytes(report.plan.estimated_after)})"
        )
        total = plan_s + apply_s
        verdict = "OK" if total < TARGET_S else "OVER TARGET"
        print(f"  plan + apply: {total:.2f} s (target < {TARGET_S:.0f} s) {verdict}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
