"""/metrics across dashboard restarts: the saved state makes a restart invisible.

A dashboard saves its /metrics state next to the logs; the next one starts from it, so the
first scrape after a restart exposes what a dashboard that never stopped would (every
value, every histogram bucket, every gauge, and the counters' creation times: no reset),
and reads only what was appended. A damaged, foreign or outdated state, or one whose log
files were rewritten, is counted and rebuilt from the logs; a read-only root still serves.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx
import msgspec
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from src.query.state_file import STATE_DIR
from src.webui import metrics_state
from src.webui.app import create_app
from src.webui.metrics import RESTARTED_FRESH, LogMetrics
from src.webui.metrics_state import STATE_NAME, load_state, save_state
from src.webui.settings import WebSettings
from tests.webui.conftest import free_port, serving

OWN = RESTARTED_FRESH  # the dashboard's own series: a restart starts them afresh

Sample = tuple[str, tuple[tuple[str, str], ...]]


def _values(text: str) -> dict[Sample, float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if not s.name.startswith(OWN)
    }


def _without_created(values: dict[Sample, float]) -> dict[Sample, float]:
    return {k: v for k, v in values.items() if not k[0].endswith("_created")}


def _own(text: str, name: str, outcome: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels.get("outcome") == outcome:
                return s.value
    raise AssertionError(f"{name}{{outcome={outcome!r}}} not exposed")


def _scrape(lm: LogMetrics) -> str:
    lm.wait_s = 120  # a slow machine must not make a scrape partial
    registry = CollectorRegistry()
    registry.register(lm)
    return generate_latest(registry).decode()


def _reference(base: Path) -> dict[Sample, float]:
    """One fold of the logs as they are now, in memory (no state read or written)."""
    lm = LogMetrics(base, persist=False)
    try:
        return _without_created(_values(_scrape(lm)))
    finally:
        lm.close()


@contextmanager
def _serving(base: Path):
    """A real uvicorn server over ``base``; leaving stops it as a signal would (the app's
    shutdown runs, and saves the /metrics state)."""
    port = free_port()
    settings = WebSettings(base_path=base, port=port, summary_max_age_s=0)
    app = create_app(settings=settings)
    app.state.metrics.logs.wait_s = 120  # a slow machine must not make a scrape partial
    with (
        serving(app, port, must_stop=True) as (url, _),
        httpx.Client(base_url=url, timeout=130) as client,
    ):
        client.app = app
        yield client


def _metrics(client: httpx.Client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    return response.text


# -- logs --------------------------------------------------------------------------------


def _line(sid: str, n: int, symbol: str, kind: str, payload: dict) -> bytes:
    event = {
        "ts": f"2026-11-30T10:{n // 600 % 60:02d}:{n // 10 % 60:02d}.{n % 10}00000+00:00",
        "session_id": sid,
        "symbol": symbol,
        "mode": "paper",
        "kind": kind,
        "payload": payload,
        "seq": n,
        "event_id": f"e-{sid}-{n}",
        "mono_ns": 1_000_000_000 + n * 7_000_000,
    }
    return json.dumps(event).encode() + b"\n"


def _trip(sid: str, i: int, *, fill: bool = True, blocked: bool = False) -> list[bytes]:
    """One intent's events: intent, gate, then its order and fill (or a blocked gate)."""
    symbol = ("BTC-USD", "ETH-USD", "SOL-USD")[i % 3]
    intent, cid = f"int-{sid}-{i}", f"ord-{sid}-{i}"
    n = i * 10
    lines = [
        _line(
            sid,
            n,
            symbol,
            "intent",
            {"intent_id": intent, "side": "buy", "quantity": 1.0, "current_price": 100.0 + i},
        ),
        _line(
            sid,
            n + 1,
            symbol,
            "gate",
            {"intent_id": intent, "gate_name": f"G{i % 4}", "passed": not blocked, "reason": "r"},
        ),
    ]
    if blocked:
        return lines
    lines.append(
        _line(
            sid,
            n + 2 + i % 3,
            symbol,
            "order",
            {"intent_id": intent, "client_id": cid, "side": "buy", "quantity": 1.0},
        )
    )
    if fill:
        lines.append(_fill(sid, i))
    return lines


def _fill(sid: str, i: int) -> bytes:
    symbol = ("BTC-USD", "ETH-USD", "SOL-USD")[i % 3]
    return _line(sid, i * 10 + 6 + i % 4, symbol, "fill", {
        "intent_id": f"int-{sid}-{i}", "client_id": f"ord-{sid}-{i}", "filled_quantity": 1.0,
        "fill_price": 100.0 + i + (i % 5 - 2) * 0.01, "fill_notional": 100.0, "fill_fee": 0.1,
    })  # fmt: skip


def _append(path: Path, lines: list[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as fh:
        fh.write(b"".join(lines))


def _session(base: Path, sid: str, trips: range, **kw: bool) -> Path:
    path = base / f"{sid}.jsonl"
    _append(path, [line for i in trips for line in _trip(sid, i, **kw)])
    return path


@pytest.fixture
def root(logs) -> Path:
    """The golden logs plus two sessions with open orders and pending pairs."""
    _session(logs, "alpha", range(0, 40))
    _session(logs, "beta", range(0, 10), blocked=True)
    _session(logs, "beta", range(10, 15), fill=False)  # open orders, pending pairs
    _append(logs / "beta.jsonl", [b"not json\n"])
    return logs


# -- a restart is invisible -------------------------------------------------------------


def test_a_restart_with_a_saved_state_exposes_what_a_dashboard_that_kept_running_would(root):
    """Server A scrapes, the logs grow, A scrapes and stops; they grow again (including
    fills of orders A saw); server B's first scrape equals a dashboard that never stopped:
    every value and bucket, the gauges, and the counters' creation times (no reset)."""
    alpha = root / "alpha.jsonl"
    kept = LogMetrics(root, persist=False)  # the dashboard that never stops
    with _serving(root) as a:
        _metrics(a)
        _scrape(kept)
        _append(alpha, [line for i in range(40, 60) for line in _trip("alpha", i, fill=False)])
        _scrape(kept)
        before = _values(_metrics(a))
    assert (root / STATE_DIR / STATE_NAME).is_file()
    _append(alpha, [_fill("alpha", i) for i in range(40, 55)])  # pairs across the restart
    _append(alpha, [line for i in range(60, 70) for line in _trip("alpha", i)])
    _append(root / "gamma.jsonl", [line for i in range(5) for line in _trip("gamma", i)])
    with _serving(root) as b:
        text = _metrics(b)
    assert _own(text, "telemetry_dashboard_metrics_state_loads_total", "restored") == 1
    after = _values(text)
    assert _without_created(after) == _without_created(_values(_scrape(kept)))
    assert (
        after[("execution_order_to_fill_seconds_count", ())]
        > before[("execution_order_to_fill_seconds_count", ())]
    )
    assert after[("execution_open_orders", ())] == 5 + 5  # beta's, and alpha's 55..59
    created = {k: v for k, v in before.items() if k[0].endswith("_created")}
    assert created and all(after[k] == v for k, v in created.items())


def test_the_state_is_saved_at_most_every_interval_and_at_shutdown(root):
    alpha = root / "alpha.jsonl"
    lm = LogMetrics(root, save_every_s=3600)
    text = _scrape(lm)  # the first fold is saved at once
    assert _own(text, "telemetry_dashboard_metrics_state_saves_total", "saved") == 1
    _append(alpha, _trip("alpha", 100))
    text = _scrape(lm)
    assert _own(text, "telemetry_dashboard_metrics_state_saves_total", "saved") == 1
    lm.close()
    assert _own(_scrape(lm), "telemetry_dashboard_metrics_state_saves_total", "saved") == 2
    again = LogMetrics(root)
    text = _scrape(again)
    assert _own(text, "telemetry_dashboard_metrics_state_loads_total", "restored") == 1
    assert _without_created(_values(text)) == _reference(root)


def test_retention_removing_and_compressing_files_while_stopped_keeps_the_counts(root):
    """A session deleted while the dashboard was down keeps its counts (as in a dashboard
    that kept running), and a compressed file is not counted again."""
    with _serving(root) as a:
        before = _values(_metrics(a))
    (root / "beta.jsonl").unlink()
    plain = root / "alpha.jsonl"
    with open(plain, "rb") as src, gzip.open(f"{plain}.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    plain.unlink()
    with _serving(root) as b:
        text = _metrics(b)
        assert _own(text, "telemetry_dashboard_metrics_state_loads_total", "restored") == 1
        assert _values(text) == before
        _append(root / "alpha.jsonl", _trip("alpha", 200))  # a new file after the .gz
        after = _values(_metrics(b))
    intents = ("execution_intent_total", ())
    assert after[intents] == before[intents] + 1
    assert _reference(root)[intents] < before[intents]  # a new fold would have lost beta


# -- rebuilt when the state cannot be trusted -------------------------------------------


def _damage_bytes(state: Path, how: str) -> None:
    data = bytearray(state.read_bytes())
    if how == "garbage":
        state.write_bytes(b"\x00garbage" * 10)
    elif how == "truncated":
        state.write_bytes(bytes(data[: len(data) // 2]))
    elif how == "blob_flipped":
        data[-3] ^= 0xFF
        state.write_bytes(bytes(data))
    elif how == "empty":
        state.write_bytes(b"")
    else:  # pragma: no cover
        raise AssertionError(how)


@pytest.mark.parametrize("how", ["garbage", "truncated", "blob_flipped", "empty"])
def test_a_damaged_state_is_counted_and_rebuilt(root, how):
    lm = LogMetrics(root)
    _scrape(lm)
    lm.close()
    _damage_bytes(root / STATE_DIR / STATE_NAME, how)
    _append(root / "alpha.jsonl", _trip("alpha", 300))
    again = LogMetrics(root)
    text = _scrape(again)
    assert _own(text, "telemetry_dashboard_metrics_state_loads_total", "invalid") == 1
    assert _without_created(_values(text)) == _reference(root)
    assert load_state(root).outcome == "restored"  # saved anew


def _rewrite_state(root: Path, edit) -> None:
    """Save the state again with ``edit`` applied to its parts (a well-formed file)."""
    loaded = load_state(root)
    assert loaded.state is not None and loaded.files is not None
    state = loaded.state
    followed = {
        sid: [(*f[:5], _guard(f[0], f[3], f[4]), f[3], f[5]) for f in files]
        for sid, files in loaded.files.items()
    }
    metrics, lines, followed = edit(state.metrics, dict(state.lines), followed)
    assert save_state(root, metrics, lines, followed)


def _guard(path: Path, offset: int, gz: bool) -> bytes:
    if gz:
        return b""
    with open(path, "rb") as fh:
        fh.seek(max(0, offset - 64))
        return fh.read(offset - max(0, offset - 64))


def _bad_labels(metrics, lines, followed):
    series = dict(metrics.series)
    series["events"] = [msgspec.structs.replace(series["events"][0], labels=("intent",))]
    return msgspec.structs.replace(metrics, series=series), lines, followed


def _bad_buckets(metrics, lines, followed):
    series = dict(metrics.series)
    one = series["order_to_fill_seconds"][0]
    series["order_to_fill_seconds"] = [msgspec.structs.replace(one, values=one.values[:3])]
    return msgspec.structs.replace(metrics, series=series), lines, followed


def _negative_lines(metrics, lines, followed):
    lines["valid"] = (-5.0, lines["valid"][1])
    return metrics, lines, followed


@pytest.mark.parametrize(
    "edit", [_bad_labels, _bad_buckets, _negative_lines], ids=lambda f: f.__name__
)
def test_a_state_that_decodes_but_does_not_fit_is_counted_and_rebuilt(root, edit):
    lm = LogMetrics(root)
    _scrape(lm)
    lm.close()
    _rewrite_state(root, edit)
    again = LogMetrics(root)
    text = _scrape(again)
    assert _own(text, "telemetry_dashboard_metrics_state_loads_total", "invalid") == 1
    assert _without_created(_values(text)) == _reference(root)


def test_a_state_naming_a_file_outside_the_root_is_not_used(root, monkeypatch):
    lm = LogMetrics(root)
    _scrape(lm)
    lm.close()
    real = metrics_state._mark

    def escaping(base, path, *rest):
        mark = real(base, path, *rest)
        return msgspec.structs.replace(mark, name="../" + mark.name)

    monkeypatch.setattr(metrics_state, "_mark", escaping)
    _rewrite_state(root, lambda m, lines, f: (m, lines, f))
    monkeypatch.undo()
    assert load_state(root).outcome == "invalid"
    again = LogMetrics(root)
    text = _scrape(again)
    assert _own(text, "telemetry_dashboard_metrics_state_loads_total", "invalid") == 1
    assert _without_created(_values(text)) == _reference(root)


def test_a_state_behind_a_symbolic_link_is_not_read(root, tmp_path):
    lm = LogMetrics(root)
    _scrape(lm)
    lm.close()
    elsewhere = tmp_path / "elsewhere"
    (root / STATE_DIR).rename(elsewhere)
    (root / STATE_DIR).symlink_to(elsewhere)
    text = _scrape(LogMetrics(root))
    assert _own(text, "telemetry_dashboard_metrics_state_loads_total", "missing") == 1
    assert _own(text, "telemetry_dashboard_metrics_state_saves_total", "skipped") == 1


def test_another_code_version_is_counted_and_rebuilt(root, monkeypatch):
    lm = LogMetrics(root)
    _scrape(lm)
    lm.close()
    monkeypatch.setattr(metrics_state, "_code", "0" * 32)  # as if the metric definitions changed
    text = _scrape(LogMetrics(root))
    assert _own(text, "telemetry_dashboard_metrics_state_loads_total", "invalid") == 1
    assert _without_created(_values(text)) == _reference(root)


def _replaced(path: Path) -> None:
    """Rewritten through a new file moved into place: same bytes, another inode."""
    tmp = path.with_name("tmp-copy")
    tmp.write_bytes(path.read_bytes())
    os.replace(tmp, path)


def _rewritten_in_place(path: Path) -> None:
    """The same inode and size, other bytes (an editor's save, a restore from backup)."""
    data = path.read_bytes()
    at = data.index(b'"quantity": 1.0')
    with open(path, "r+b") as fh:
        fh.seek(at)
        fh.write(b'"quantity": 2.0')


def _truncated_and_regrown(path: Path) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[: len(lines) // 2] + lines))


@pytest.mark.parametrize("change", [_replaced, _rewritten_in_place, _truncated_and_regrown],
                         ids=lambda f: f.__name__)  # fmt: skip
def test_a_log_file_whose_identity_changed_rebuilds_from_the_logs(root, change):
    with _serving(root) as a:
        _metrics(a)
    change(root / "alpha.jsonl")
    with _serving(root) as b:
        text = _metrics(b)
    assert _own(text, "telemetry_dashboard_metrics_state_loads_total", "changed") == 1
    assert _without_created(_values(text)) == _reference(root)
    assert load_state(root).outcome == "restored"


# -- a read-only root -------------------------------------------------------------------


@contextmanager
def _read_only(path: Path):
    """``path`` made read-only for everyone, root included: a read-only bind mount (where
    mounting is refused, a state directory that cannot be written: a file in its way)."""
    bind = subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True)
    if bind.returncode == 0:
        try:
            done = subprocess.run(
                ["mount", "-o", "remount,ro,bind", str(path)], capture_output=True
            )
            assert done.returncode == 0, done.stderr
            yield "mount"
        finally:
            subprocess.run(["umount", str(path)], check=True)
        return
    state_dir = path / STATE_DIR
    aside = path.parent / "state-aside"
    state_dir.rename(aside)
    state_dir.write_bytes(b"in the way")
    try:
        yield "blocked"
    finally:
        state_dir.unlink()
        aside.rename(state_dir)


def test_a_read_only_root_serves_metrics_without_saving(root, monkeypatch):
    with _serving(root) as a:
        before = _values(_metrics(a))  # saved: the root was writable
    with _read_only(root) as how:
        with _serving(root) as b:
            text = _metrics(b)
            if how == "mount":  # the saved state is still read
                assert _own(text, "telemetry_dashboard_metrics_state_loads_total",
                            "restored") == 1  # fmt: skip
                assert _values(text) == before
            assert _without_created(_values(text)) == _without_created(before)
            assert _own(text, "telemetry_dashboard_metrics_state_saves_total", "saved") == 0
        # A dashboard of another version: nothing it can use, nowhere to save its fold.
        monkeypatch.setattr(metrics_state, "_code", "0" * 32)
        fresh = LogMetrics(root, save_every_s=0)
        _scrape(fresh)
        text = _scrape(fresh)
        fresh.close()
        assert _own(text, "telemetry_dashboard_metrics_state_saves_total", "saved") == 0
        assert _own(text, "telemetry_dashboard_metrics_state_saves_total", "skipped") >= 1
        assert _without_created(_values(text)) == _without_created(before)
    monkeypatch.undo()
    assert load_state(root).outcome == "restored"


# -- a long read never holds a scrape up -------------------------------------------------


def test_a_scrape_during_a_long_read_answers_at_once_without_partial_series(root):
    """While the logs are being read (held here: a first fold of a big root), a scrape
    answers within its wait with the dashboard's own series and ready 0, and none of the
    execution series; once the read completes they are all there."""
    with _serving(root) as a:
        logs = a.app.state.metrics.logs
        with logs._lock:  # the reading thread cannot get on
            logs.wait_s = 0.2
            text = _metrics(a)
            assert not [name for name, _ in _values(text) if name.startswith("execution_")]
            assert "telemetry_dashboard_execution_metrics_ready 0.0" in text
            assert "telemetry_dashboard_requests_total" in text
        logs.wait_s = 120
        text = _metrics(a)
        assert "telemetry_dashboard_execution_metrics_ready 1.0" in text
        assert _without_created(_values(text)) == _reference(root)


def test_a_shutdown_during_a_read_abandons_it_and_saves_nothing(root):
    lm = LogMetrics(root)
    observe, seen = lm._observe, []

    def observe_until_shutdown(line: bytes) -> None:
        seen.append(line)
        if len(seen) == 10:
            lm._closing = True  # the shutdown arrives midway
        observe(line)

    lm._observe = observe_until_shutdown
    text = _scrape(lm)
    lm.close()
    assert "telemetry_dashboard_execution_metrics_ready 0.0" in text
    assert len(seen) == 10
    assert load_state(root).outcome == "missing"
    again = LogMetrics(root)
    assert _without_created(_values(_scrape(again))) == _reference(root)


def test_real_retention_while_stopped_leaves_the_state_usable(root):
    """telemetry-retention run while the dashboard is down (beta past the age limit,
    alpha old enough to compress): the state stays, is used, and the counts stay."""
    from src.ops.retention.policy import RetentionPolicy
    from src.ops.retention.run import run_retention

    with _serving(root) as a:
        before = _values(_metrics(a))
    now = time.time()
    os.utime(root / "beta.jsonl", (now - 40 * 86400, now - 40 * 86400))
    os.utime(root / "alpha.jsonl", (now - 10 * 86400, now - 10 * 86400))
    policy = RetentionPolicy(max_age_days=30, keep_last_n=0, max_total_mb=0,
                             compress_after_days=7)  # fmt: skip
    report = run_retention(root, policy, apply=True)
    assert report.failed == 0
    assert not (root / "beta.jsonl").exists() and (root / "alpha.jsonl.gz").is_file()
    assert (root / STATE_DIR / STATE_NAME).is_file()
    with _serving(root) as b:
        text = _metrics(b)
    assert _own(text, "telemetry_dashboard_metrics_state_loads_total", "restored") == 1
    assert _values(text) == before


def test_a_read_that_fails_part_way_shows_no_partial_counts_and_is_counted(
    root, monkeypatch, caplog
):
    """An error part way through the first read of the logs leaves the execution_* series
    hidden (ready stays 0: no partial counts a rate would take for a burst), counts the
    failure and logs it; the next scrape reads again and exposes them."""
    from src.execution.telemetry.metrics_def import ExecutionMetrics

    _append(root / "alpha.jsonl", [line for i in range(10) for line in _trip("alpha", i)])
    real = ExecutionMetrics.observe
    calls = [0]

    def observe(self, event):
        calls[0] += 1
        if calls[0] == 5:
            raise RuntimeError("boom")
        return real(self, event)

    monkeypatch.setattr(ExecutionMetrics, "observe", observe)
    lm = LogMetrics(root, persist=False)
    with caplog.at_level("ERROR", logger="src.webui.metrics"):
        first = _scrape(lm)
    assert "telemetry_dashboard_execution_metrics_ready 0.0" in first
    assert "execution_events_total" not in first
    assert "telemetry_dashboard_metrics_read_failures_total 1.0" in first
    assert any("for /metrics failed" in r.getMessage() for r in caplog.records)
    monkeypatch.setattr(ExecutionMetrics, "observe", real)
    second = _scrape(lm)
    assert "telemetry_dashboard_execution_metrics_ready 1.0" in second
    assert "execution_events_total" in second
