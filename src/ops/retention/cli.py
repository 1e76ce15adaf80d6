"""``telemetry_retention``: compress and delete old telemetry logs; a dry run unless --apply.

Exit codes: 0 done (or nothing to do), 1 the size cap cannot be met (protected or live
sessions), 2 an action failed or another run holds the root, 3 bad input (unsafe or
invalid root, bad flag or config value).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TextIO

from src.cli.common import Parser, fail
from src.common.terminal import CleanWriter

EXIT_OK, EXIT_WARNING, EXIT_FAILED, EXIT_INPUT = 0, 1, 2, 3

EPILOG = """\
examples:
  %(prog)s                                   dry run: print the plan, change nothing
  %(prog)s --apply                           carry the plan out
  %(prog)s --apply --max-age-days 14 --compress-after-days 3 --keep-last-n 100
  %(prog)s --apply --max-age-days 365 --compress-after-days 3 --max-total-mb 0
  %(prog)s --json | jq .size_after_bytes

Defaults come from config/execution.toml: --max-age-days from
execution.telemetry.retention_days, compression on or off from execution.telemetry.compression,
the rest from [execution.telemetry.retention]; --root from execution.telemetry.base_path.

Rules: files older than --max-age-days are deleted unless their session is one of the
--keep-last-n most recently written; plain files older than --compress-after-days are
gzipped (merged into the session's .jsonl.gz); then the oldest unprotected sessions are
deleted while the total exceeds --max-total-mb. Files a writer may still append to (today's
daily file, written in the last --live-grace-minutes, or locked by a running logger) and
files that are not this project's session logs are never touched. The root must have a path
component named execution, telemetry or logs; symlinks are never followed.

exit codes:
  0  success (dry run printed, or everything applied)
  1  warning: the size cap cannot be met (protected or live sessions are kept)
  2  failure: an action failed, or another retention run is working on the root
  3  bad input: unsafe or invalid telemetry root, bad flag, bad config value
"""


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="telemetry-retention",
        description="Compress and delete old execution telemetry logs (dry run by default).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--apply", action="store_true", help="act on the plan (default: dry run)")
    p.add_argument("--root", help="telemetry root (default: base_path from the config)")
    p.add_argument("--max-age-days", type=int, metavar="N", help="delete files older (30)")
    p.add_argument(
        "--keep-last-n", type=int, metavar="N", help="never delete the N newest sessions (200)"
    )
    p.add_argument(
        "--max-total-mb", type=int, metavar="MB", help="size cap of the root, 0 = none (2048)"
    )
    p.add_argument(
        "--compress-after-days", type=int, metavar="N", help="gzip files older, 0 = never (7)"
    )
    p.add_argument(
        "--live-grace-minutes",
        type=int,
        metavar="N",
        help="files written this recently are live, never touched (15)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document instead")
    p.add_argument("--config", metavar="PATH", help="config file (default config/execution.toml)")
    return p


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = CleanWriter(stdout or sys.stdout)  # file names and messages come from the logs
    from src.common.config import ConfigError, read_config_file
    from src.common.progress import step_progress
    from src.execution.config import load_config
    from src.ops.retention.config import load_retention_config
    from src.ops.retention.policy import RetentionPolicy
    from src.ops.retention.report import exit_code, render_plan, render_result, to_json
    from src.ops.retention.run import RetentionBusy, run_retention
    from src.ops.root import UnsafeRootError, validate_root

    try:
        file = read_config_file(args.config)
        config = load_config(file=file)
        retention = load_retention_config(file=file)
        policy = RetentionPolicy.from_config(config.telemetry, retention).with_overrides(
            max_age_days=args.max_age_days,
            keep_last_n=args.keep_last_n,
            max_total_mb=args.max_total_mb,
            compress_after_days=args.compress_after_days,
            live_grace_minutes=args.live_grace_minutes,
        )
        root = validate_root(args.root if args.root is not None else config.telemetry.base_path)
    except (ConfigError, UnsafeRootError, ValueError) as exc:
        return fail(str(exc))

    def show_plan(report) -> None:  # printed before anything is changed
        render_plan(report, out)

    try:
        with step_progress() as progress:
            report = run_retention(
                root,
                policy,
                apply=args.apply,
                on_plan=None if args.json else show_plan,
                progress=progress,
            )
    except RetentionBusy as exc:
        return fail(str(exc), EXIT_FAILED)
    except OSError as exc:
        return fail(f"retention stopped: {exc}", EXIT_FAILED)
    if args.json:
        out.write(json.dumps(to_json(report), indent=2) + "\n")
        out.flush()
    else:
        render_result(report, out)
    return exit_code(report)


if __name__ == "__main__":
    raise SystemExit(main())
