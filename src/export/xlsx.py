"""Excel export: a summary sheet, then one sheet per event kind with that kind's columns.

Written with openpyxl's write-only mode: rows go straight to disk, so memory stays flat
whatever the export's size. ``ts`` is an Excel date-time in UTC (shown to the millisecond);
``ts_iso`` keeps the logged text, exact to the microsecond. Payload keys without a column
of their own go to ``other`` as JSON. A kind with more rows than a sheet can hold continues
on ``<kind> (2)``, ``<kind> (3)``, ... Text is stored as text, never as a formula, and
characters Excel refuses are replaced.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import orjson
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

from src.execution.events import KINDS
from src.export.columns import KIND_COLUMNS, typed_value
from src.export.output import OutputFile
from src.query.analytics.summary_model import Summary
from src.query.records import Record

__all__ = ["EXCEL_MAX_ROWS", "XlsxWriter"]

EXCEL_MAX_ROWS = 1_048_576  # including the header row
MAX_CELL_CHARS = 32_767
_EVENT_COLUMNS = ("ts", "ts_iso", "session_id", "symbol", "mode", "seq", "event_id")
_TS_FORMAT = "yyyy-mm-dd hh:mm:ss.000"


def _text(value: str) -> str:
    value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    if len(value) > MAX_CELL_CHARS:
        value = value[: MAX_CELL_CHARS - 20] + " …[truncated]"
    return value


class _Sheet:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.columns = KIND_COLUMNS.get(kind, ())
        self.ws: Any = None
        self.rows = 0
        self.parts = 0


class XlsxWriter:
    """Stream events into ``out`` (an :class:`OutputFile`) as an .xlsx workbook."""

    def __init__(
        self,
        out: OutputFile,
        *,
        summary: Summary | None = None,
        info: list[tuple[str, Any]] | None = None,
        max_rows: int = EXCEL_MAX_ROWS,
    ) -> None:
        self.out = out
        self.summary = summary
        self.info = info or []
        self.max_rows = max_rows
        self.wb = Workbook(write_only=True)
        self.summary_ws = self.wb.create_sheet("summary")
        self.sheets: dict[str, _Sheet] = {}
        self.by_kind: Counter[str] = Counter()
        self.by_symbol: dict[str, Counter[str]] = {}
        self.bold = Font(bold=True)
        # Kinds the summary saw get their sheets now, in the usual order; others as they come.
        counts = summary.kind_counts if summary is not None else {}
        for kind in sorted(counts, key=lambda k: (KINDS.index(k) if k in KINDS else 99, k)):
            if counts[kind]:
                self._sheet(kind)

    # -- sheets and cells ---------------------------------------------------------------
    def _sheet(self, kind: str) -> _Sheet:
        sheet = self.sheets.get(kind)
        if sheet is None:
            sheet = self.sheets[kind] = _Sheet(kind)
        if sheet.ws is None or sheet.rows >= self.max_rows - 1:
            sheet.parts += 1
            title = kind if sheet.parts == 1 else f"{kind} ({sheet.parts})"
            sheet.ws = self.wb.create_sheet(_text(title)[:31])
            sheet.ws.freeze_panes = "A2"
            extra = ("other",) if kind in KIND_COLUMNS else ("payload",)
            sheet.ws.append(self._header([*_EVENT_COLUMNS, *sheet.columns, *extra], sheet.ws))
            sheet.rows = 0
        return sheet

    def _header(self, names: list[str], ws: Any) -> list[WriteOnlyCell]:
        cells = []
        for name in names:
            cell = WriteOnlyCell(ws, value=name)
            cell.font = self.bold
            cells.append(cell)
        return cells

    def _cell(self, ws: Any, value: Any) -> Any:
        if isinstance(value, str):
            value = _text(value)
            if value.startswith("="):
                cell = WriteOnlyCell(ws, value=value)
                cell.data_type = "s"  # text, not a formula
                return cell
        return value

    # -- events -------------------------------------------------------------------------
    def write(self, session_id: str, rec: Record) -> None:
        kind = rec.kind
        sheet = self._sheet(kind)
        ws = sheet.ws
        data, payload = rec.data, rec.payload
        ts = WriteOnlyCell(ws, value=datetime.fromtimestamp(rec.t, UTC).replace(tzinfo=None))
        ts.number_format = _TS_FORMAT
        seq = data.get("seq")
        row: list[Any] = [
            ts,
            self._cell(ws, str(data.get("ts"))),
            self._cell(ws, data.get("session_id") or session_id),
            self._cell(ws, rec.symbol),
            self._cell(ws, data.get("mode") if isinstance(data.get("mode"), str) else None),
            seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
            self._cell(ws, data.get("event_id") if isinstance(data.get("event_id"), str) else None),
        ]
        if sheet.columns:
            row += [self._cell(ws, typed_value(k, payload.get(k))) for k in sheet.columns]
            rest = {k: v for k, v in payload.items() if k not in sheet.columns}
            row.append(self._cell(ws, orjson.dumps(rest, default=str).decode()) if rest else None)
        else:
            row.append(self._cell(ws, orjson.dumps(payload, default=str).decode()))
        ws.append(row)
        sheet.rows += 1
        self.by_kind[kind] += 1
        self._count_symbol(rec.symbol, kind, payload)

    def _count_symbol(self, symbol: str, kind: str, payload: dict[str, Any]) -> None:
        counts = self.by_symbol.get(symbol)
        if counts is None:
            if len(self.by_symbol) >= 10_000:
                symbol = "(other symbols)"
            counts = self.by_symbol.setdefault(symbol, Counter())
        counts["events"] += 1
        if kind == "fill":
            counts["fills"] += 1
            for key in ("filled_quantity", "fill_notional", "fill_fee"):
                value = typed_value(key, payload.get(key))
                if value is not None:
                    counts[key] += value  # type: ignore[assignment]

    # -- the summary sheet and the end --------------------------------------------------
    def _summary_rows(self) -> list[list[Any]]:
        rows: list[list[Any]] = [["Execution telemetry export"], []]
        rows += [[k, v] for k, v in self.info]
        rows += [["events exported", sum(self.by_kind.values())], [], ["kind", "events"]]
        rows += [[kind, n] for kind, n in self.by_kind.most_common()]
        rows += [[], ["symbol", "events", "fills", "filled quantity", "notional", "fees"]]
        for symbol, c in sorted(self.by_symbol.items()):
            rows.append(
                [
                    symbol,
                    c["events"],
                    c["fills"],
                    c["filled_quantity"],
                    c["fill_notional"],
                    c["fill_fee"],
                ]
            )
        s = self.summary
        if s is None:
            return rows
        rows += [[], ["latency", "pairs", "avg ms", "p50 ms", "p95 ms", "p99 ms", "max ms"]]
        latency = s.latency
        for name, d in (
            ("intent -> order", latency.intent_to_order),
            ("order -> fill", latency.order_to_fill),
            ("intent -> fill", latency.intent_to_fill),
            ("order -> ack", latency.order_to_ack),
            ("order -> cancel", latency.order_to_cancel),
        ):
            rows.append([name, d.count, d.avg_ms, d.p50_ms, d.p95_ms, d.p99_ms, d.max_ms])
        rows += [[], ["slippage (bps, positive = worse)", "fills", "avg", "p50", "p95", "max"]]
        by_symbol = {"(all)": s.slippage.overall, **s.slippage.by_symbol}
        for symbol, b in by_symbol.items():
            rows.append([symbol, b.count, b.avg_bps, b.p50_bps, b.p95_bps, b.max_bps])
        g = s.gates
        rows += [[], ["gate", "evaluations", "blocks", "rejection rate", "top reason"]]
        rows.append(["(all intents)", g.intents, g.blocks, g.rejection_rate, None])
        for name, gate in g.by_gate.items():
            top = gate.top_reasons[0].reason if gate.top_reasons else None
            rows.append([name, gate.evaluations, gate.blocks, gate.rejection_rate, top])
        f = s.fills
        rows += [
            [],
            ["orders", f.orders],
            ["fills", f.fills],
            ["fill rate", f.fill_rate],
            ["orders without fills", f.orders_without_fills],
            ["fills without orders", f.fills_without_orders],
            ["duplicate fills", f.duplicate_fills],
            ["errors", s.errors.count],
        ]
        return rows + self._order_rows(s)

    @staticmethod
    def _order_rows(s: Summary) -> list[list[Any]]:
        """Orders by final state (docs/events.md), the rates, and the open orders."""
        o = s.orders
        rows: list[list[Any]] = [[], ["order outcome", "orders"]]
        rows += [[status, n] for status, n in o.by_status.items()]
        rows += [
            ["orders sent", o.sent],
            ["cancelled or expired partly filled", o.partly_filled_then_ended],
            ["acknowledged", o.acknowledged],
            ["partial fills", o.partial_fills],
            ["partially filled orders", o.partially_filled_orders],
            ["cancel rate", o.cancel_rate],
            ["reject rate", o.reject_rate],
            ["oldest open order placed", o.oldest_open_ts],
            ["oldest open order age (s)", o.oldest_open_age_s],
            ["open orders past their deadline", o.overdue],
        ]
        return rows

    def commit(self) -> list[Any]:
        ws = self.summary_ws
        for row in self._summary_rows():
            ws.append([self._cell(ws, v) for v in row])
        self.out.close_handle()
        self.wb.save(self.out.tmp)
        return [self.out.commit()]

    def abort(self) -> None:
        self.out.abort()
