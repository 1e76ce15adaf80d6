"""Gate decisions: rejection rate overall and per gate, with the commonest reasons."""

from __future__ import annotations

from collections import Counter

from src.query.analytics.summary_model import GateReason, GateReport, GatesReport
from src.query.records import Scalar

__all__ = ["GateStats"]


class GateStats:
    """Evaluations are counted by the scan loop in bulk (half of all events are gate
    decisions), by gate name as logged: a missing one (None) or one that is not a string
    is shown as "?" (they are told apart only at :meth:`result`, not per event); blocking
    decisions, which are rare, go through :meth:`block`."""

    def __init__(self) -> None:
        self.evaluations: Counter[Scalar] = Counter()
        self.blocks: dict[str, int] = {}
        self.reasons: dict[str, Counter[str]] = {}

    def block(self, name: str, reason: object) -> None:
        self.blocks[name] = self.blocks.get(name, 0) + 1
        text = reason if isinstance(reason, str) else ""
        self.reasons.setdefault(name, Counter())[text[:120]] += 1

    def absorb(self, later: GateStats) -> None:
        """Add the statistics of the part of the read that follows this one."""
        self.evaluations.update(later.evaluations)
        for name, count in later.blocks.items():
            self.blocks[name] = self.blocks.get(name, 0) + count
        for name, reasons in later.reasons.items():
            # Counter.update keeps first-seen order, which breaks ties in most_common().
            self.reasons.setdefault(name, Counter()).update(reasons)

    def result(self, intents: int) -> GatesReport:
        by_name: dict[str, int] = {}
        for name, count in self.evaluations.items():
            shown = name if isinstance(name, str) else "?"
            by_name[shown] = by_name.get(shown, 0) + count
        evaluations = sum(by_name.values())
        blocks = sum(self.blocks.values())
        return GatesReport(
            evaluations=evaluations,
            blocks=blocks,
            intents=intents,
            # One blocking decision stops an intent, so blocks count blocked intents.
            rejection_rate=blocks / intents if intents else None,
            by_gate={
                name: GateReport(
                    evaluations=count,
                    blocks=self.blocks.get(name, 0),
                    rejection_rate=self.blocks.get(name, 0) / count,
                    top_reasons=[
                        GateReason(r, c)
                        for r, c in self.reasons.get(name, Counter()).most_common(3)
                    ],
                )
                for name, count in sorted(by_name.items())
            },
        )
