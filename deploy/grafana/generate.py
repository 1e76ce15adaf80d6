"""Generate deploy/grafana/execution-telemetry.json, the Grafana dashboard of the execution
metrics: ``python deploy/grafana/generate.py`` (a test checks the file is what this writes,
that every query parses, and that it names only metrics and labels the product exports).

Panels: events by kind, latency quantiles (intent->order, order->fill, intent->fill), fill
rate, gate rejections, venue rejects / cancels / expiries, slippage, open orders, errors.
Variables: ``datasource`` (any Prometheus) and ``job`` (the jobs scraping the product; pick
one: the dashboard and telemetry-metrics see the same events).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("execution-telemetry.json")
DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'job=~"$job"'
RATE = "$__rate_interval"

# (title, unit, [(legend, expr)], width, kind)
LEGS = ("intent_to_order", "order_to_fill", "intent_to_fill")


def _quantiles(metric: str, qs: tuple[float, ...]) -> list[tuple[str, str]]:
    return [
        (
            f"p{q * 100:g}",
            f"histogram_quantile({q}, sum by (le) (rate({metric}_bucket{{{SEL}}}[{RATE}])))",
        )
        for q in qs
    ]


PANELS: list[tuple[str, str, list[tuple[str, str]], str]] = [
    ("Events by kind", "ops",
     [("{{kind}}", f"sum by (kind) (rate(execution_events_total{{{SEL}}}[{RATE}]))")],
     "timeseries"),
    ("Open orders", "short",
     [("open", f"sum(execution_open_orders{{{SEL}}})")], "stat"),
    ("Fill rate (fills / orders)", "percentunit",
     [("fill rate", f'sum(rate(execution_events_total{{{SEL},kind="fill"}}[{RATE}])) / '
                    f'sum(rate(execution_events_total{{{SEL},kind="order"}}[{RATE}]))')],
     "timeseries"),
    *[
        (f"Latency {leg.replace('_', ' ')}", "s", _quantiles(f"execution_{leg}_seconds",
                                                              (0.5, 0.95, 0.99)), "timeseries")
        for leg in LEGS
    ],
    ("Gate rejections by gate", "ops",
     [("{{gate}}", f"sum by (gate) (rate(execution_gate_rejections_total{{{SEL}}}[{RATE}]))")],
     "timeseries"),
    ("Gate rejection rate", "percentunit",
     [("all gates", f"sum(rate(execution_gate_rejections_total{{{SEL}}}[{RATE}])) / "
                    f'sum(rate(execution_events_total{{{SEL},kind="intent"}}[{RATE}]))'),
      ("{{gate}}", f"sum by (gate) (rate(execution_gate_rejections_total{{{SEL}}}[{RATE}])) / "
                   f"sum by (gate) (rate(execution_gate_evaluations_total{{{SEL}}}[{RATE}]))")],
     "timeseries"),
    ("Order endings other than fills", "ops",
     [("{{kind}}", f'sum by (kind) (rate(execution_events_total{{{SEL},'
                   f'kind=~"partial_fill|cancel|expire|reject"}}[{RATE}]))')], "timeseries"),
    ("Slippage (bps, positive = worse)", "short",
     _quantiles("execution_slippage_bps", (0.5, 0.95)), "timeseries"),
    ("Errors", "ops",
     [("errors", f'sum(rate(execution_events_total{{{SEL},kind="error"}}[{RATE}]))'),
      ("error share", f'sum(rate(execution_events_total{{{SEL},kind="error"}}[{RATE}])) / '
                      f"sum(rate(execution_events_total{{{SEL}}}[{RATE}]))")], "timeseries"),
    ("Events by symbol", "ops",
     [("{{symbol}}", f"sum by (symbol) (rate(execution_events_total{{{SEL}}}[{RATE}]))")],
     "timeseries"),
]  # fmt: skip


def _panel(n: int, title: str, unit: str, targets: list[tuple[str, str]], kind: str) -> Any:
    return {
        "id": n + 1,
        "type": kind,
        "title": title,
        "datasource": DS,
        "gridPos": {"h": 8, "w": 12, "x": (n % 2) * 12, "y": (n // 2) * 8},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DS, "expr": expr, "legendFormat": legend}
            for i, (legend, expr) in enumerate(targets)
        ],
    }


def dashboard() -> dict[str, Any]:
    return {
        "uid": "execution-telemetry",
        "title": "Execution telemetry",
        "tags": ["execution", "telemetry"],
        "timezone": "utc",
        "schemaVersion": 38,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus",
                 "label": "Prometheus"},
                {"name": "job", "type": "query", "datasource": DS, "label": "job",
                 "query": "label_values(execution_events_total, job)",
                 "definition": "label_values(execution_events_total, job)",
                 "refresh": 2, "multi": False, "includeAll": False},
            ]
        },
        "panels": [_panel(n, *p) for n, p in enumerate(PANELS)],
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT}", file=sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
