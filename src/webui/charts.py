"""Server-rendered SVG charts (no JavaScript library, nothing fetched from a CDN).

Numbers and times are formatted here; the only text from the logs (symbols) is escaped.
Colours come from the page's CSS (classes ``k-<kind>``, ``s-<n>``), so the charts follow
the light or dark scheme; :data:`KIND_COLOURS` is the same palette for anything outside
the page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

from markupsafe import Markup, escape

from src.execution.schema import PAYLOADS
from src.query.analytics.stats import percentile
from src.webui.chart_index import BUCKET_S, RangeData

__all__ = [
    "KIND_COLOURS",
    "compact_time",
    "events_over_time",
    "format_ms",
    "latency_histogram",
    "range_charts",
    "slippage_by_symbol",
]

W = 480  # viewBox width; text sizes are set in CSS and stay readable down to 390 px
_L, _R, _T = 44, 12, 22  # plot margins: left (y labels), right, top (title)

# One colour per kind, in the order of an order's life (app.css has the same values).
KIND_COLOURS = {
    "intent": "#5b8def",
    "gate": "#d4a72c",
    "order": "#35b6c9",
    "ack": "#8c7cf0",
    "partial_fill": "#8fcf6a",
    "fill": "#2da44e",
    "cancel": "#a0a8b3",
    "expire": "#d4793a",
    "reject": "#d6458f",
    "error": "#e5534b",
}
assert set(KIND_COLOURS) == set(PAYLOADS), "every kind of the schema needs a colour"


def compact_time(t: float, span: float = 0.0) -> str:
    """``HH:MM:SS`` (UTC); ``HH:MM`` for spans of hours, ``YYYY-MM-DD`` for spans of days."""
    d = datetime.fromtimestamp(t, UTC)
    if span >= 2 * 86400:
        return f"{d:%Y-%m-%d}"
    return f"{d:%H:%M}" if span >= 4 * 3600 else f"{d:%H:%M:%S}"


def format_ms(ms: float) -> str:
    """A latency in a few characters: ``850µs``, ``12ms``, ``1.5s``."""
    if ms < 1:
        return f"{ms * 1000:.3g}µs"
    if ms < 1000:
        return f"{ms:.3g}ms"
    return f"{ms / 1000:.3g}s"


def _count(n: float) -> str:
    return f"{n / 1000:.3g}k" if n >= 10_000 else f"{int(n):,}"


def _svg(title: str, height: int, body: str, label: str | None = None) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {W} {height}" role="img" '
        f'aria-label="{escape(label or title)}">'
        f'<text x="2" y="13" class="chart-title">{escape(title)}</text>{body}</svg>'
    )


def _empty(title: str, height: int = 150) -> Markup:
    body = (
        f'<text x="{W // 2}" y="{height // 2}" text-anchor="middle" class="axis">no data yet</text>'
    )
    return Markup(_svg(title, height, body))


def _y_axis(top: float, bottom: float, peak: int) -> str:
    """Count gridlines and labels at 0, half and the peak."""
    parts = []
    for frac in (0.0, 0.5, 1.0):
        y = bottom - frac * (bottom - top)
        parts.append(
            f'<line x1="{_L}" x2="{W - _R}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{_L - 4}" y="{y + 3:.1f}" text-anchor="end" class="axis">'
            f"{_count(peak * frac)}</text>"
        )
    return "".join(parts)


def events_over_time(data: RangeData, range_label: str, bins: int = 60) -> Markup:
    """Stacked bars of events per time bin, one colour per kind, with both axes and an
    HTML legend (readable at any width)."""
    title = f"Events over time, by kind ({range_label}, UTC)"
    if not data.buckets or data.start is None or data.end is None:
        return _empty(title)
    span = max(data.end - data.start, float(BUCKET_S))
    width = max(span / bins, float(BUCKET_S))
    grouped: list[tuple[float, dict[str, int]]] = [
        (data.start + i * width, {}) for i in range(min(bins, math.ceil(span / width)))
    ]
    for start, kinds in data.buckets:
        counts = grouped[min(int((start - data.start) / width), len(grouped) - 1)][1]
        for k, n in kinds.items():
            counts[k] = counts.get(k, 0) + n
    height, bottom = 166, 146
    top = _T + 6
    peak = max((sum(c.values()) for _, c in grouped), default=0) or 1
    bw = (W - _L - _R) / len(grouped)
    parts = [_y_axis(top, bottom, peak)]
    for i, (start, counts) in enumerate(grouped):
        y = bottom
        x = _L + i * bw
        for kind in KIND_COLOURS:
            n = counts.get(kind, 0)
            if not n:
                continue
            h = n / peak * (bottom - top)
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(bw - 1, 1):.1f}" height="{h:.1f}" '
                f'class="k-{kind}"><title>{compact_time(start)}: {n:,} {kind}</title></rect>'
            )
    span = len(grouped) * width  # what the bars cover
    for frac, anchor in ((0.0, "start"), (0.5, "middle"), (1.0, "end")):
        t = data.start + frac * span
        parts.append(
            f'<text x="{_L + frac * (W - _L - _R):.1f}" y="{bottom + 14}" text-anchor="{anchor}" '
            f'class="axis">{compact_time(t, span)}</text>'
        )
    total = sum(sum(c.values()) for _, c in grouped)
    title = f"{title} · {_count(total)} events"
    legend = "".join(
        f'<li><span class="swatch k-{kind}"></span>{kind}</li>' for kind in KIND_COLOURS
    )
    svg = _svg(title, height, "".join(parts))
    return Markup(f'{svg}<ul class="legend">{legend}</ul>')


def _log_edges(lo: float, hi: float, per_decade: int) -> list[float]:
    a = math.floor(math.log10(lo))
    b = max(math.ceil(math.log10(hi)), a + 1)
    b = min(b, a + 9)
    return [10 ** (a + i / per_decade) for i in range((b - a) * per_decade + 1)]


def latency_histogram(
    values: Sequence[float], title: str, per_decade: int = 5, total: int | None = None
) -> Markup:
    """A histogram of latencies (ms) on log-scale bins: a count axis, a time axis at every
    decade, and p50/p95/p99 markers. Values below the first bin (0 ms) fall in it.
    ``total``: how many samples ``values`` (the newest) were taken from, when more."""
    if not values:
        return _empty(title)
    ordered = sorted(values)
    n = len(ordered)
    positive = [v for v in ordered if v > 0]
    lo = positive[0] if positive else 1e-3
    edges = _log_edges(lo, max(ordered[-1], lo * 1.0001), per_decade)
    bins = len(edges) - 1
    counts = [0] * bins
    log_lo, log_hi = math.log10(edges[0]), math.log10(edges[-1])
    scale = bins / (log_hi - log_lo)
    for v in ordered:
        i = 0 if v <= edges[0] else int((math.log10(v) - log_lo) * scale)
        counts[min(max(i, 0), bins - 1)] += 1
    height, bottom = 184, 146
    top = _T + 24  # room for the percentile labels
    peak = max(counts)
    plot_w = W - _L - _R
    bw = plot_w / bins

    def x_of(v: float) -> float:
        if v <= edges[0]:
            return _L
        return _L + (math.log10(v) - log_lo) / (log_hi - log_lo) * plot_w

    parts = [_y_axis(top, bottom, peak)]
    for i, c in enumerate(counts):
        if not c:
            continue
        h = c / peak * (bottom - top)
        parts.append(
            f'<rect x="{_L + i * bw:.1f}" y="{bottom - h:.1f}" width="{max(bw - 1, 1):.1f}" '
            f'height="{h:.1f}" class="bar"><title>{format_ms(edges[i])}–{format_ms(edges[i + 1])}'
            f": {c:,}</title></rect>"
        )
    first_e, last_e = round(log_lo), round(log_hi)
    for e in range(first_e, last_e + 1):
        x = x_of(10.0**e)
        anchor = "start" if e == first_e else "end" if e == last_e else "middle"
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{bottom}" y2="{bottom + 4}" class="tick"/>'
            f'<text x="{x:.1f}" y="{bottom + 15}" text-anchor="{anchor}" class="axis">'
            f"{format_ms(10.0**e)}</text>"
        )
    for row, (name, p) in enumerate((("p50", 50), ("p95", 95), ("p99", 99))):
        v = percentile(ordered, p)
        assert v is not None
        x = x_of(v)
        anchor = "end" if x > W - 90 else "start"
        dx = -3 if anchor == "end" else 3
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{_T + 4 + row * 10}" y2="{bottom}" '
            f'class="marker m-{name}"/>'
            f'<text x="{x + dx:.1f}" y="{_T + 12 + row * 10}" text-anchor="{anchor}" '
            f'class="axis marker-label m-{name}">{name} {format_ms(v)}</text>'
        )
    parts.append(
        f'<text x="{W - _R}" y="{height - 3}" text-anchor="end" class="axis">'
        f"latency, log scale; bars: count</text>"
    )
    full = f"{title} · n={n:,}"
    if total is not None and total > n:
        full = f"{title} · n={n:,} newest of {total:,}"
    p50, p95, p99 = (percentile(ordered, p) for p in (50, 95, 99))
    label = (
        f"{full}: p50 {format_ms(p50 or 0)}, p95 {format_ms(p95 or 0)}, p99 {format_ms(p99 or 0)}"
    )
    return Markup(_svg(full, height, "".join(parts), label))


def _nice_step(span: float, ticks: int = 5) -> float:
    raw = span / ticks
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def slippage_by_symbol(
    by_symbol: dict[str, Sequence[float]], range_label: str = "session", most: int = 10
) -> Markup:
    """One row per symbol (the ``most`` with the most fills): whiskers p5-p95, a box p25-p75
    and the median, on one bps axis with zero marked; n and p50 on the right."""
    title = f"Slippage per symbol, bps, + = worse than the quote ({range_label})"
    series = sorted(
        ((sym, sorted(vals)) for sym, vals in by_symbol.items() if len(vals)),
        key=lambda kv: (-len(kv[1]), kv[0]),
    )
    if not series:
        return _empty(title)
    hidden = len(series) - most
    series = series[:most]
    stats = [
        (sym, [percentile(vals, p) or 0.0 for p in (5, 25, 50, 75, 95)], len(vals))
        for sym, vals in series
    ]
    lo = min(0.0, *(s[0] for _, s, _ in stats))
    hi = max(0.0, *(s[4] for _, s, _ in stats))
    step = _nice_step((hi - lo) or 1.0)
    lo, hi = math.floor(lo / step) * step, math.ceil(hi / step) * step
    if hi == lo:
        hi = lo + step
    left, right = 92, W - 96
    row_h = 22
    top = _T + 6
    bottom = top + row_h * len(stats)
    height = bottom + 34

    def x_of(v: float) -> float:
        return left + (v - lo) / (hi - lo) * (right - left)

    parts = []
    tick = lo
    while tick <= hi + step / 2:
        x = x_of(tick)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}" '
            f'class="{"zero" if abs(tick) < step / 1e6 else "grid"}"/>'
            f'<text x="{x:.1f}" y="{bottom + 13}" text-anchor="middle" class="axis">'
            f"{tick:+g}</text>"
        )
        tick += step
    for i, (sym, (p5, p25, p50, p75, p95), count) in enumerate(stats):
        y = top + i * row_h + row_h / 2
        label = sym if len(sym) <= 12 else sym[:11] + "…"
        name, colour = escape(sym), f"s-{i % 6}"
        x25, x50, x75 = x_of(p25), x_of(p50), x_of(p75)
        numbers = f"p5 {p5:+.2f}, p25 {p25:+.2f}, p50 {p50:+.2f}, p75 {p75:+.2f}, p95 {p95:+.2f}"
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis sym">'
            f"{escape(label)}<title>{name}</title></text>"
            f'<line x1="{x_of(p5):.1f}" x2="{x_of(p95):.1f}" y1="{y:.1f}" y2="{y:.1f}" '
            f'class="whisker {colour}"/>'
            f'<rect x="{x25:.1f}" y="{y - 6:.1f}" width="{max(x75 - x25, 1.5):.1f}" height="12" '
            f'class="box {colour}"><title>{name}: {numbers} bps (n={count:,})</title></rect>'
            f'<line x1="{x50:.1f}" x2="{x50:.1f}" y1="{y - 7:.1f}" y2="{y + 7:.1f}" '
            'class="median"/>'
            f'<text x="{W - 2}" y="{y + 4:.1f}" text-anchor="end" class="axis">'
            f"p50 {p50:+.1f} · n {_count(count)}</text>"
        )
    more = f"; {hidden} more symbols not shown" if hidden > 0 else ""
    parts.append(
        f'<text x="{right}" y="{height - 4}" text-anchor="end" class="axis">'
        f"bps; whiskers p5–p95, box p25–p75{more}</text>"
    )
    return Markup(_svg(title, height, "".join(parts)))


def range_charts(data: RangeData, range_label: str) -> list[Markup]:
    """The session page's charts for one time range."""
    return [
        events_over_time(data, range_label),
        latency_histogram(
            data.intent_to_order,
            f"Latency intent→order ({range_label})",
            total=data.totals.get("intent_to_order"),
        ),
        latency_histogram(
            data.order_to_fill,
            f"Latency order→fill ({range_label})",
            total=data.totals.get("order_to_fill"),
        ),
        slippage_by_symbol(data.slippage, range_label),
    ]
