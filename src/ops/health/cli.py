"""``telemetry_health``: is the telemetry root healthy? For cron, monitoring and the on-call.

Exit codes: 0 healthy, 1 warning, 2 critical, 3 bad input (unsafe or invalid root, bad flag
or config value).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TextIO

from src.cli.common import Parser, fail, non_negative_float
from src.common.terminal import CleanWriter

EXIT_OK, EXIT_WARNING, EXIT_CRITICAL, EXIT_INPUT = 0, 1, 2, 3

EPILOG = """\
checks:
  disk          use of the root's filesystem; the root's size against the retention cap
  parse_errors  invalid lines among the newest lines of the newest files
  retention     time since the last successful `telemetry_retention --apply`
  writers       write errors reported by running loggers (heartbeats in <root>/.writers/),
                and loggers that stopped without closing

Thresholds default to [execution.telemetry.health] in config/execution.toml; --root to
execution.telemetry.base_path.

examples:
  %(prog)s
  %(prog)s --json | jq -r '.checks[] | select(.severity != "ok") | .message'

exit codes:
  0  healthy
  1  warning (disk >= 80%% used, parse errors > 1%%, retention not applied for 8 days,
     write errors in the last 24 h, a writer stopped without closing, root above its cap)
  2  critical (disk >= 90%% used, parse errors > 5%%, retention not applied for 15 days,
     write errors in the last 15 minutes)
  3  bad input: unsafe or invalid telemetry root, bad flag, bad config value
"""


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="telemetry-health",
        description="Health of the execution telemetry logs: disk, parse errors, retention, "
        "writer errors.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--root", help="telemetry root (default: base_path from the config)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--config", metavar="PATH", help="config file (default config/execution.toml)")
    p.add_argument("--disk-warn-percent", type=non_negative_float, metavar="P")
    p.add_argument("--disk-crit-percent", type=non_negative_float, metavar="P")
    p.add_argument(
        "--parse-error-warn", type=non_negative_float, metavar="RATE", help="e.g. 0.01 for 1%%"
    )
    p.add_argument("--parse-error-crit", type=non_negative_float, metavar="RATE")
    p.add_argument("--sample-files", type=int, metavar="N", help="newest files sampled (20)")
    p.add_argument("--sample-lines", type=int, metavar="N", help="lines read per file (5000)")
    p.add_argument("--stale-warn-hours", type=non_negative_float, metavar="H")
    p.add_argument("--stale-crit-hours", type=non_negative_float, metavar="H")
    p.add_argument("--write-error-window-minutes", type=non_negative_float, metavar="M")
    return p


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = CleanWriter(stdout or sys.stdout)  # file names and messages come from the logs
    from src.common.config import ConfigError, read_config_file
    from src.common.progress import step_progress
    from src.execution.config import load_config
    from src.ops.health.checks import HealthThresholds, run_checks
    from src.ops.health.config import load_health_config
    from src.ops.retention.config import load_retention_config
    from src.ops.root import UnsafeRootError, validate_root
    from src.query.checks import CRITICAL, WARNING, worst

    try:
        file = read_config_file(args.config)
        config = load_config(file=file)
        h = load_health_config(file=file)
        given = {
            "disk_warn_percent": args.disk_warn_percent,
            "disk_crit_percent": args.disk_crit_percent,
            "parse_error_warn": args.parse_error_warn,
            "parse_error_crit": args.parse_error_crit,
            "sample_files": args.sample_files,
            "sample_lines": args.sample_lines,
            "retention_stale_warn_hours": args.stale_warn_hours,
            "retention_stale_crit_hours": args.stale_crit_hours,
            "write_error_window_minutes": args.write_error_window_minutes,
        }
        values = {key: given[key] if given[key] is not None else getattr(h, key) for key in given}
        thresholds = HealthThresholds(
            **values, size_cap_mb=load_retention_config(file=file).max_total_mb
        )
        root = validate_root(args.root if args.root is not None else config.telemetry.base_path)
    except (ConfigError, UnsafeRootError, ValueError) as exc:
        return fail(str(exc))

    with step_progress() as progress:
        step = (lambda done, total: progress("sampling", done, total)) if progress else None
        findings = run_checks(root, thresholds, progress=step)
    status = worst(findings)
    if args.json:
        doc = {
            "root": str(root),
            "status": status,
            "checks": [f.as_dict() for f in findings],
            "exit_code": _code(status, WARNING, CRITICAL),
        }
        out.write(json.dumps(doc, indent=2) + "\n")
    else:
        out.write(f"Telemetry health: {status.upper()}\nRoot: {root}\n")
        width = max(len(f.check) for f in findings)
        for f in findings:
            out.write(f"  {f.severity:<8}  {f.check:<{width}}  {f.message}\n")
    out.flush()
    return _code(status, WARNING, CRITICAL)


def _code(status: str, warning: str, critical: str) -> int:
    return {warning: EXIT_WARNING, critical: EXIT_CRITICAL}.get(status, EXIT_OK)


if __name__ == "__main__":
    raise SystemExit(main())
