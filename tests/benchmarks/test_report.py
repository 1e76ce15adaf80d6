"""Every benchmark prints its report rows through the one row function of benchmarks._report."""

from __future__ import annotations

import ast
from pathlib import Path

from benchmarks import _report

BENCHMARKS = Path(_report.__file__).parent


def test_no_benchmark_keeps_its_own_copy_of_the_report_row():
    """A module that defines a function printing a figure, its value, target and verdict
    is a second copy of _report.row (the query and persist benchmarks each had one)."""
    copies = []
    for path in sorted(BENCHMARKS.glob("*.py")):
        if path.name == "_report.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name in ("row", "_row"):
                copies.append(f"{path.name}:{node.lineno}")
    assert copies == []


def test_a_row_names_the_figure_its_value_target_and_verdict(capsys):
    """One line each; the verdict only where a target was checked."""
    _report.row("p95", "3.0 ms", "< 5 ms", True)
    _report.row("p99", "9.0 ms", "< 5 ms", False)
    _report.row("throughput", "10 req/s")
    out = capsys.readouterr().out.splitlines()
    assert [line.split() for line in out] == [
        ["p95", "3.0", "ms", "<", "5", "ms", "PASS"],
        ["p99", "9.0", "ms", "<", "5", "ms", "MISS"],
        ["throughput", "10", "req/s"],
    ]
