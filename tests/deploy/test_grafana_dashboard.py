"""deploy/grafana: the dashboard file is what the generator writes, every query parses
(promtool check rules over them as recording rules) and names only exported series/labels."""

from __future__ import annotations

import json
import re
import subprocess

from src.execution.telemetry.metrics_def import METRICS, exported_series
from tests.deploy.tools import binary, dashboard_queries, grafana_module, metric_names

FREE_LABELS = {"job", "instance", "le"}  # Prometheus's own, and the histograms'


def _labels_named(expr: str) -> set[str]:
    names = set()
    for group in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", expr):
        names |= {n.strip() for n in group.split(",") if n.strip()}
    for matchers in re.findall(r"\{([^}]*)\}", re.sub(r'"[^"]*"', '""', expr)):
        names |= {m.split("=")[0].split("!")[0].strip() for m in matchers.split(",") if m}
    return names


def _check(doc: dict) -> list[str]:
    """What the dashboard names that the product does not export (empty: all fine)."""
    exported = set(exported_series())
    labels = {label for m in METRICS for label in m.labels} | FREE_LABELS
    problems = []
    for expr in dashboard_queries(doc):
        problems += [f"metric {n}" for n in metric_names(expr) - exported]
        problems += [f"label {n}" for n in _labels_named(expr) - labels]
    for panel in doc["panels"]:
        for target in panel["targets"]:
            legend = set(re.findall(r"\{\{(\w+)\}\}", target["legendFormat"]))
            problems += [f"legend label {n}" for n in legend - labels]
    return problems


def test_the_file_is_what_the_generator_writes():
    module = grafana_module()
    assert module.OUT.read_text(encoding="utf-8") == module.render(), (
        "run python deploy/grafana/generate.py"
    )


def test_the_dashboard_has_the_panels_the_desk_needs():
    titles = " | ".join(p["title"] for p in grafana_module().dashboard()["panels"]).lower()
    for needed in ("events by kind", "latency", "fill rate", "gate rejection", "slippage",
                   "open orders"):  # fmt: skip
        assert needed in titles


def test_every_query_parses(tmp_path):
    queries = dashboard_queries(grafana_module().dashboard())
    rules = "groups:\n  - name: dashboard\n    rules:\n" + "".join(
        f"      - record: dashboard:query_{n}:check\n        expr: {json.dumps(q)}\n"
        for n, q in enumerate(queries)
    )
    path = tmp_path / "queries.yml"
    path.write_text(rules)
    done = subprocess.run([binary("promtool"), "check", "rules", str(path)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(queries)} rules found" in done.stdout


def test_it_names_only_what_the_product_exports():
    doc = grafana_module().dashboard()
    assert _check(doc) == []
    # The check catches a misspelt metric and a label nobody exports.
    doc["panels"][0]["targets"][0]["expr"] = "sum by (venue) (rate(execution_event_total[5m]))"
    assert _check(doc) == ["metric execution_event_total", "label venue"]
