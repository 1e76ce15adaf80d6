"""The server-rendered charts and the per-bucket index behind their time ranges."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from src.execution.schema import KINDS
from src.query.records import ParseStats
from src.webui import charts
from src.webui.chart_index import BUCKET_S, ChartedSummaryBuilder, RangeData


def _line(t: float, kind: str, payload: dict, symbol: str = "BTC-USD") -> bytes:
    event = {
        "ts": datetime.fromtimestamp(t, UTC).isoformat(),
        "session_id": "s",
        "symbol": symbol,
        "mode": "paper",
        "kind": kind,
        "payload": payload,
    }
    return (json.dumps(event) + "\n").encode()


def _cycle(t: float, i: int, latency_ms: float, symbol: str = "BTC-USD") -> bytes:
    intent = {"intent_id": f"i{i}", "side": "buy", "quantity": 1.0, "current_price": 100.0}
    order = {"client_id": f"c{i}", "intent_id": f"i{i}", "side": "buy", "quantity": 1.0}
    fill = {"client_id": f"c{i}", "side": "buy", "filled_quantity": 1.0, "fill_price": 100.1}
    return (
        _line(t, "intent", intent, symbol)
        + _line(t + 0.001, "order", order, symbol)
        + _line(t + 0.001 + latency_ms / 1000, "fill", fill, symbol)
    )


def test_ranges_take_only_the_samples_and_counts_of_their_time():
    """An hour of history then a burst: the 5-minute range holds the burst's events and
    latencies only, the whole session all of them (the same numbers the summary has)."""
    builder = ChartedSummaryBuilder()
    t0 = 1_800_000_000.0
    old = b"".join(_cycle(t0 + i * 60, i, 5.0) for i in range(60))  # one a minute, 5 ms
    old += b"".join(_cycle(t0 + 3600 + i, 200 + i, 5.0, "ETH-USD") for i in range(5))
    new = b"".join(_cycle(t0 + 7200 + i, 100 + i, 50.0) for i in range(30))  # 50 ms
    builder.consume([old, new], ParseStats())
    index = builder.charts
    recent = index.window(300)
    assert len(recent.order_to_fill) == 30 and min(recent.order_to_fill) > 40
    assert sum(sum(k.values()) for _, k in recent.buckets) == 90
    assert len(recent.slippage["BTC-USD"]) == 30 and "ETH-USD" not in recent.slippage
    everything = index.window(None)
    assert len(everything.order_to_fill) == 95 == len(builder.pairer.order_to_fill)
    assert sum(sum(k.values()) for _, k in everything.buckets) == builder.event_count == 285
    assert len(everything.slippage["ETH-USD"]) == 5 and len(everything.slippage["BTC-USD"]) == 90
    assert everything.buckets[0][0] <= t0 < everything.buckets[0][0] + BUCKET_S


def test_an_empty_index_gives_an_empty_range_and_charts_say_so():
    data = ChartedSummaryBuilder().charts.window(300)
    assert data == RangeData(None, None, [], [], [], {})
    for chart in charts.range_charts(data, "last 5m"):
        assert "no data yet" in chart


def test_latency_histogram_has_log_bins_axes_counts_and_percentile_markers():
    values = [0.5] * 10 + [2.0] * 80 + [40.0] * 9 + [900.0]
    svg = str(charts.latency_histogram(values, "Latency order→fill"))
    # decade ticks from 100 µs to 1 s, a count axis topped by the fullest bin
    for label in ("100µs", "1ms", "10ms", "100ms", "1s"):
        assert f">{label}</text>" in svg
    assert ">80</text>" in svg and ">0</text>" in svg
    assert "p50 2ms" in svg and "p95 40ms" in svg and "p99 40ms" in svg
    assert "n=100" in svg
    # log bins: equal widths in log space, five per decade
    widths = {m for m in re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)"', svg)}
    assert len(widths) == 1


def test_slippage_is_one_row_per_symbol_on_a_bps_axis_and_escapes_symbols():
    by_symbol = {"BTC-USD": [1.0, 2.0, 3.0, 4.0], "<b>X</b>": [-5.0, -4.0, 6.0]}
    svg = str(charts.slippage_by_symbol(by_symbol, "last 15m"))
    assert "<b>X</b>" not in svg and "&lt;b&gt;X&lt;/b&gt;" in svg
    assert svg.count('class="median"') == 2
    assert 'class="zero"' in svg and ">+0</text>" in svg
    assert "p50 +2.0 · n 4" in svg


def test_every_kind_has_its_own_colour_in_the_chart_legend():
    assert set(charts.KIND_COLOURS) == set(KINDS)
    assert len(set(charts.KIND_COLOURS.values())) == len(KINDS)
    data = RangeData(0.0, 10.0, [(0.0, {k: 1 for k in KINDS}), (5.0, {"ack": 2})], [], [], {})
    html = str(charts.events_over_time(data, "last 5m"))
    for kind in ("ack", "partial_fill", "cancel", "expire", "reject"):
        assert (
            f'class="k-{kind}"' in html and f'<span class="swatch k-{kind}"></span>{kind}' in html
        )
    text = (Path(charts.__file__).parent / "static" / "app.css").read_text()
    for kind, colour in charts.KIND_COLOURS.items():
        assert f"--k-{kind}: {colour};" in text
        assert f".badge.kind-{kind} {{ border-left-color: var(--k-{kind}); }}" in text


def test_compact_times():
    t = datetime(2026, 11, 30, 15, 4, 7, tzinfo=UTC).timestamp()
    assert charts.compact_time(t) == "15:04:07" and charts.compact_time(t, 6 * 3600) == "15:04"
    assert charts.format_ms(0.25) == "250µs" and charts.format_ms(1500) == "1.5s"


def test_a_range_gives_the_charts_at_most_its_newest_samples(monkeypatch):
    """A whole big session is not sorted on every refresh: the charts get the newest
    MAX_SAMPLES of each series and say how many there were."""
    from src.webui import chart_index

    monkeypatch.setattr(chart_index, "MAX_SAMPLES", 10)
    builder = ChartedSummaryBuilder()
    t0 = 1_800_000_000.0
    builder.consume([b"".join(_cycle(t0 + i, i, 1.0 + i) for i in range(30))], ParseStats())
    data = builder.charts.window(None)
    assert data.order_to_fill == builder.pairer.order_to_fill[-10:]
    assert data.totals == {"intent_to_order": 30, "order_to_fill": 30}
    assert len(data.slippage["BTC-USD"]) == 10
    svg = str(charts.range_charts(data, "whole session")[2])
    assert "n=10 newest of 30" in svg


def test_times_scattered_over_years_cost_what_their_events_cost(monkeypatch):
    """Two events decades apart: the index lists two buckets, not the span's millions,
    and the chart still draws both; the index never holds more than MAX_BUCKETS."""
    from src.webui import chart_index

    builder = ChartedSummaryBuilder()
    old, new = 100_000_000.0, 1_800_000_000.0
    intent = {"intent_id": "x", "side": "buy", "quantity": 1.0, "current_price": 1.0}
    builder.consume([_line(old, "intent", intent) + _line(new, "ack", {})], ParseStats())
    data = builder.charts.window(None)
    assert len(data.buckets) == 2
    svg = str(charts.events_over_time(data, "whole session"))
    assert svg.count('class="k-intent"') == 1 and svg.count('class="k-ack"') == 1
    assert ">1973-03-03</text>" in svg

    monkeypatch.setattr(chart_index, "MAX_BUCKETS", 20)
    builder = ChartedSummaryBuilder()
    lines = b"".join(_line(new + i * 3600, "ack", {}) for i in range(50))
    builder.consume([lines], ParseStats())
    assert len(builder.charts.counts) <= 20
    assert len(builder.charts.window(None).buckets) <= 20
