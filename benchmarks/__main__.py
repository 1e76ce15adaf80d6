"""Run the benchmarks: ``python -m benchmarks`` (all) or ``python -m benchmarks emit|redis|...``."""

from __future__ import annotations

import importlib
import sys

SUITES = {
    "emit": "benchmarks.bench_emit",
    "query": "benchmarks.bench_query",
    "dashboard": "benchmarks.bench_dashboard",
    "redis": "benchmarks.bench_redis",
    "retention": "benchmarks.bench_retention",
    "export": "benchmarks.bench_export",
    "alerts": "benchmarks.bench_alerts",
    "hardening": "benchmarks.bench_hardening",
    "orders": "benchmarks.bench_orders",
    "persist": "benchmarks.bench_persist",
    "metrics": "benchmarks.bench_metrics",
}


def main(argv: list[str]) -> int:
    names = argv or list(SUITES)
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        print(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(SUITES)}", file=sys.stderr)
        return 2
    for name in names:
        importlib.import_module(SUITES[name]).main()
    return 0


raise SystemExit(main(sys.argv[1:]))
