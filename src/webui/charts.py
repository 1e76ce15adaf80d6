"""Server-rendered SVG charts (no JavaScript library, nothing fetched from a CDN).

Numbers are formatted by us; the only text from the logs (symbols, kinds) is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from markupsafe import Markup, escape

from src.execution.schema import PAYLOADS

__all__ = ["events_over_time", "histogram", "slippage_series"]

W, H, PAD = 560, 180, 28
_PALETTE = {
    "intent": "#5b8def",
    "gate": "#e0b341",
    "order": "#35b6c9",
    "fill": "#3fb66b",
    "error": "#e5534b",
}
# Every kind of the schema, in the order of an order's life; a kind without a colour of
# its own is grey.
KIND_COLOURS = {kind: _PALETTE.get(kind, "#8b949e") for kind in PAYLOADS}


def _frame(title: str, body: str, legend: str = "") -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {W} {H + 24}" role="img" aria-label="{escape(title)}">'
        f'<text x="{PAD}" y="14" class="chart-title">{escape(title)}</text>'
        f'<g transform="translate(0,20)">{body}</g>{legend}</svg>'
    )


def _empty(title: str) -> Markup:
    return _frame(
        title,
        f'<text x="{W // 2}" y="{H // 2}" text-anchor="middle" class="muted">no data yet</text>',
    )


def events_over_time(rows: Sequence[dict[str, Any]], buckets: int = 40) -> Markup:
    """Stacked bars of recent events per time bucket, one colour per kind."""
    title = "Recent events over time, by kind"
    times = [datetime.fromisoformat(r["ts"]).timestamp() for r in rows]
    if not times:
        return _empty(title)
    lo, hi = min(times), max(times)
    span = max(hi - lo, 1e-6)
    counts: list[dict[str, int]] = [{} for _ in range(buckets)]
    for t, r in zip(times, rows, strict=True):
        b = min(int((t - lo) / span * buckets), buckets - 1)
        counts[b][r["kind"]] = counts[b].get(r["kind"], 0) + 1
    top = max(sum(c.values()) for c in counts) or 1
    bw = (W - 2 * PAD) / buckets
    parts = []
    for i, c in enumerate(counts):
        y = H - PAD
        for kind in KIND_COLOURS:
            n = c.get(kind, 0)
            if not n:
                continue
            h = n / top * (H - 2 * PAD)
            y -= h
            parts.append(
                f'<rect x="{PAD + i * bw:.1f}" y="{y:.1f}" width="{max(bw - 1, 1):.1f}" '
                f'height="{h:.1f}" fill="{KIND_COLOURS[kind]}"><title>{n} {kind}</title></rect>'
            )
    legend = "".join(
        f'<text x="{PAD + i * 90}" y="{H + 20}" fill="{colour}" class="legend">■ {kind}</text>'
        for i, (kind, colour) in enumerate(KIND_COLOURS.items())
    )
    axis = (
        f'<text x="{PAD}" y="{H - 8}" class="muted">{datetime.fromtimestamp(lo):%H:%M:%S}</text>'
        f'<text x="{W - PAD}" y="{H - 8}" text-anchor="end" class="muted">'
        f"{datetime.fromtimestamp(hi):%H:%M:%S}</text>"
    )
    return _frame(title, "".join(parts) + axis, legend)


def histogram(values: Sequence[float], title: str, unit: str, bins: int = 30) -> Markup:
    """A histogram of ``values`` (e.g. latencies in ms); the top 1% is folded into the last bin."""
    if not values:
        return _empty(title)
    ordered = sorted(values)
    lo, hi = ordered[0], ordered[max(0, int(len(ordered) * 0.99) - 1)]
    width = (hi - lo) / bins or 1.0
    counts = [0] * bins
    for v in ordered:
        counts[min(int((v - lo) / width), bins - 1)] += 1
    top = max(counts)
    bw = (W - 2 * PAD) / bins
    bars = "".join(
        f'<rect x="{PAD + i * bw:.1f}" y="{H - PAD - n / top * (H - 2 * PAD):.1f}" '
        f'width="{max(bw - 1, 1):.1f}" height="{n / top * (H - 2 * PAD):.1f}" fill="#5b8def">'
        f"<title>{lo + i * width:.3f}–{lo + (i + 1) * width:.3f} {unit}: {n}</title></rect>"
        for i, n in enumerate(counts)
    )
    axis = (
        f'<text x="{PAD}" y="{H - 8}" class="muted">{lo:.3f} {unit}</text>'
        f'<text x="{W - PAD}" y="{H - 8}" text-anchor="end" class="muted">≥ {hi:.3f} {unit}</text>'
    )
    return _frame(f"{title} (n={len(values)})", bars + axis)


def slippage_series(by_symbol: dict[str, Sequence[float]], last: int = 100) -> Markup:
    """Slippage of the last fills per symbol, in bps (positive = worse for the trader)."""
    title = f"Slippage per fill, last {last} per symbol (bps, + = worse)"
    series = {sym: list(vals)[-last:] for sym, vals in by_symbol.items() if vals}
    if not series:
        return _empty(title)
    flat = [v for vals in series.values() for v in vals]
    lo, hi = min(min(flat), 0.0), max(max(flat), 0.0)
    span = (hi - lo) or 1.0
    palette = ["#5b8def", "#3fb66b", "#e0b341", "#e5534b", "#35b6c9", "#a371f7"]

    def y(v: float) -> float:
        return H - PAD - (v - lo) / span * (H - 2 * PAD)

    parts = [f'<line x1="{PAD}" x2="{W - PAD}" y1="{y(0):.1f}" y2="{y(0):.1f}" class="zero"/>']
    legend = []
    for i, (sym, vals) in enumerate(sorted(series.items())):
        colour = palette[i % len(palette)]
        step = (W - 2 * PAD) / max(len(vals) - 1, 1)
        points = " ".join(f"{PAD + j * step:.1f},{y(v):.1f}" for j, v in enumerate(vals))
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"/>'
        )
        legend.append(
            f'<text x="{PAD + i * 110}" y="{H + 20}" fill="{colour}" class="legend">'
            f"■ {escape(sym)}</text>"
        )
    axis = (
        f'<text x="4" y="{y(hi) + 4:.1f}" class="muted">{hi:+.1f}</text>'
        f'<text x="4" y="{y(lo):.1f}" class="muted">{lo:+.1f}</text>'
    )
    return _frame(title, "".join(parts) + axis, "".join(legend))
