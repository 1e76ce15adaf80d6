"""The real monitoring binaries (installed by `make test` from Debian), and the rules file read
as text (the repository has no YAML library; the file's layout is ours and simple)."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "execution.rules.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "tests" / "execution.rules.test.yml"


def binary(name: str) -> str:
    """The path of ``name``; a missing one fails the test (``make system-deps`` installs it)."""
    path = shutil.which(name)
    assert path, f"{name} is not installed: run `make system-deps` (make test does)"
    return path


@dataclass(frozen=True)
class Rule:
    name: str  # the alert or the recorded series
    alert: bool
    expr: str
    labels: str
    text: str


def rules(path: Path = RULES) -> list[Rule]:
    """Every rule of the file, from its ``- record:`` / ``- alert:`` line to the next one."""
    text = path.read_text(encoding="utf-8")
    starts = list(re.finditer(r"^      - (record|alert): (\S+)$", text, re.M))
    out = []
    for n, m in enumerate(starts):
        end = starts[n + 1].start() if n + 1 < len(starts) else len(text)
        block = text[m.start() : end]
        expr = re.search(r"expr: (?:\|\n)?(.*?)(?=\n        \w+:|\Z)", block, re.S)
        labels = re.search(r"labels: \{(.*?)\}", block)
        assert expr, block
        out.append(
            Rule(m.group(2), m.group(1) == "alert", expr.group(1).strip(),
                 labels.group(1) if labels else "", block)
        )  # fmt: skip
    return out


METRIC = re.compile(r"\b((?:execution|telemetry_dashboard)_[a-z_]+|job(?:_gate)?:[a-z_]+:\w+)")


def metric_names(expr: str) -> set[str]:
    """The series an expression names (metrics and recorded series; not label values)."""
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    return set(METRIC.findall(without_strings))


GRAFANA = ROOT / "deploy" / "grafana"


def grafana_module():
    """deploy/grafana/generate.py, imported from its path (deploy/ is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("grafana_generate", GRAFANA / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dashboard_queries(doc: dict) -> list[str]:
    """Every panel query of a dashboard with Grafana's variables replaced by PromQL."""
    return [
        t["expr"].replace("$__rate_interval", "5m").replace('"$job"', '".+"')
        for p in doc["panels"]
        for t in p["targets"]
    ]
