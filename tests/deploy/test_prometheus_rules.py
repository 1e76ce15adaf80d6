"""The shipped Prometheus rules: valid for the real promtool, unit-tested by it (series in,
alerts out), at the alert engine's default thresholds, over metrics the product exports."""

from __future__ import annotations

import subprocess

from src.alerts.config import AlertRules
from src.execution.telemetry.metrics_def import exported_series
from tests.deploy.tools import RULE_TESTS, RULES, binary, metric_names, rules

DASHBOARD_SERIES = {"telemetry_dashboard_log_lines_total"}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary("promtool"), *args], capture_output=True, text=True,
                          timeout=120, cwd=RULES.parent)  # fmt: skip


def test_promtool_check_rules_accepts_the_file():
    done = promtool("check", "rules", RULES.name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules())} rules found" in done.stdout


def test_promtool_unit_tests_pass():
    """tests/execution.rules.test.yml: each alert fires at its thresholds, not below them."""
    done = promtool("test", "rules", str(RULE_TESTS.relative_to(RULES.parent)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_promtool_unit_tests_catch_a_changed_threshold(tmp_path):
    """The unit tests pin the thresholds: a warning at 30% instead of 20% fails them."""
    changed = tmp_path / "execution.rules.yml"
    changed.write_text(RULES.read_text().replace("> 0.2 <= 0.5", "> 0.4 <= 0.5"))
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / RULE_TESTS.name).write_text(RULE_TESTS.read_text())
    done = subprocess.run([binary("promtool"), "test", "rules", f"tests/{RULE_TESTS.name}"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)  # fmt: skip
    assert done.returncode != 0
    assert "ExecutionGateRejectionRateHigh" in done.stdout + done.stderr


def test_every_series_named_is_exported_or_recorded():
    recorded = {r.name for r in rules() if not r.alert}
    known = set(exported_series()) | DASHBOARD_SERIES | recorded
    for rule in rules():
        unknown = metric_names(rule.expr) - known
        assert not unknown, f"{rule.name}: {unknown}"


def _alert(name: str, severity: str) -> str:
    found = [r.expr for r in rules() if r.name == name and f"severity: {severity}" in r.labels]
    assert len(found) == 1, (name, severity)
    return " ".join(found[0].split())


def _block(name: str, severity: str) -> str:
    found = [r.text for r in rules() if r.name == name and f"severity: {severity}" in r.labels]
    return found[0]


def test_thresholds_are_the_alert_engines_defaults():
    """Each alert carries the engine rule's default thresholds and minimum samples."""
    d = AlertRules()
    g = d.gate_rejection
    for name, samples in (
        ("ExecutionGateRejectionRateHigh", "job:execution_intents"),
        ("ExecutionGateBlockingHigh", "job_gate:execution_gate_evaluations"),
    ):
        assert f"> {g.warn_rate:g} <= {g.crit_rate:g}" in _alert(name, "warning")
        assert f"> {g.crit_rate:g}" in _alert(name, "critical")
        for severity in ("warning", "critical"):
            assert f"{samples}:increase5m >= {g.min_samples}" in _alert(name, severity)
        assert g.window_s == 300  # the 5m of every rate
    e = d.errors
    assert e.any_error and "> 0" in _alert("ExecutionErrors", "warning")
    assert f"> {e.crit_rate:g}" in _alert("ExecutionErrorRateHigh", "critical")
    assert f">= {e.min_events}" in _alert("ExecutionErrorRateHigh", "critical")
    lat = d.latency
    warn_s, crit_s = lat.warn_p95_ms / 1000, lat.crit_p95_ms / 1000
    assert set(lat.legs) == {"intent_to_fill", "order_to_fill"}
    for leg in lat.legs:
        assert f'"{leg}", "", "") > {warn_s:g} <= {crit_s:g}' in _alert(
            "ExecutionLatencyHigh", "warning"
        )
        assert f'"{leg}", "", "") > {crit_s:g}' in _alert("ExecutionLatencyHigh", "critical")
        assert f"{leg}_seconds:increase5m >= {lat.min_samples}" in _alert(
            "ExecutionLatencyHigh", "critical"
        )
    assert f">= {d.fill_rate.min_orders}" in _alert("ExecutionNoFills", "critical")
    mf = d.missing_fills
    assert f"for: {mf.warn_after_s / 60:g}m" in _block("ExecutionOrdersStuck", "warning")
    assert f"for: {mf.crit_after_s / 60:g}m" in _block("ExecutionOrdersStuck", "critical")
    st = d.stalled_session
    assert f"[{st.warn_after_s / 60:g}m])) > 0)" in _alert("ExecutionTelemetryStalled", "warning")
    assert f"[{st.crit_after_s / 60:g}m])) > 0" in _alert("ExecutionTelemetryStalled", "critical")
    pe = d.parse_errors
    assert f"> {pe.warn_rate:g} <= {pe.crit_rate:g}" in _alert("ExecutionLogParseErrors", "warning")
    assert f"> {pe.crit_rate:g}" in _alert("ExecutionLogParseErrors", "critical")
    assert f">= {pe.min_lines}" in _alert("ExecutionLogParseErrors", "critical")
