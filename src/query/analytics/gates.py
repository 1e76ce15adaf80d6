"""Gate decisions: rejection rate overall and per gate, with the commonest reasons."""

from __future__ import annotations

from collections import Counter
from typing import Any

from src.query.records import ScanRecord

__all__ = ["GateStats"]


class GateStats:
    def __init__(self) -> None:
        self.evaluations: Counter[str] = Counter()
        self.blocks: Counter[str] = Counter()
        self.reasons: dict[str, Counter[str]] = {}

    def add(self, rec: ScanRecord) -> bool:
        """Count one gate event; return True when it blocked its intent."""
        p = rec.payload
        name = p.gate_name if isinstance(p.gate_name, str) else "?"
        self.evaluations[name] += 1
        if p.passed is False:
            self.blocks[name] += 1
            reason = p.reason if isinstance(p.reason, str) else ""
            self.reasons.setdefault(name, Counter())[reason[:120]] += 1
            return True
        return False

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
                    "blocks": self.blocks[name],
                    "rejection_rate": self.blocks[name] / count,
                    "top_reasons": [
                        {"reason": r, "count": c}
                        for r, c in self.reasons.get(name, Counter()).most_common(3)
                    ],
                }
                for name, count in sorted(self.evaluations.items())
            },
        }
