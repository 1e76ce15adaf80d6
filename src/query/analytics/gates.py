"""Gate decisions: rejection rate overall and per gate, with the commonest reasons."""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["GateStats"]


class GateStats:
    """Evaluations are counted inline by the scan loop (half of all events are gate
    decisions); blocking decisions, which are rare, go through :meth:`block`."""

    def __init__(self) -> None:
        self.evaluations: dict[str, int] = {}
        self.blocks: dict[str, int] = {}
        self.reasons: dict[str, Counter[str]] = {}

    def block(self, name: str, reason: Any) -> None:
        self.blocks[name] = self.blocks.get(name, 0) + 1
        text = reason if isinstance(reason, str) else ""
        self.reasons.setdefault(name, Counter())[text[:120]] += 1

    def absorb(self, later: GateStats) -> None:
        """Add the statistics of the part of the read that follows this one."""
        for name, count in later.evaluations.items():
            self.evaluations[name] = self.evaluations.get(name, 0) + count
        for name, count in later.blocks.items():
            self.blocks[name] = self.blocks.get(name, 0) + count
        for name, reasons in later.reasons.items():
            # Counter.update keeps first-seen order, which breaks ties in most_common().
            self.reasons.setdefault(name, Counter()).update(reasons)

    def result(self, intents: int) -> dict[str, Any]:
        evaluations = sum(self.evaluations.values())
        blocks = sum(self.blocks.values())
        return {
            "evaluations": evaluations,
            "blocks": blocks,
            "intents": intents,
            # One blocking decision stops an intent, so blocks count blocked intents.
            "rejection_rate": blocks / intents if intents else None,
            "by_gate": {
                name: {
                    "evaluations": count,
                    "blocks": self.blocks.get(name, 0),
                    "rejection_rate": self.blocks.get(name, 0) / count,
                    "top_reasons": [
                        {"reason": r, "count": c}
                        for r, c in self.reasons.get(name, Counter()).most_common(3)
                    ],
                }
                for name, count in sorted(self.evaluations.items())
            },
        }
