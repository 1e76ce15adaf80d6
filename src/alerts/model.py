"""What the alert engine talks about: conditions (a rule's verdict now) and severities.

A :class:`Condition` is one rule's finding on one session at one evaluation, identified by
its :attr:`~Condition.key` ``rule:session[:subject]`` (the subject names the gate or latency
leg for rules that judge several). The lifecycle (:mod:`src.alerts.lifecycle`) turns the
stream of conditions into alerts that fire, escalate and resolve.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from src.query.checks import CRITICAL, OK, WARNING

__all__ = ["CRITICAL", "OK", "SEVERITY_RANK", "WARNING", "Condition", "alert_key"]

SEVERITY_RANK = {OK: 0, WARNING: 1, CRITICAL: 2}


def alert_key(rule: str, session_id: str, subject: str = "") -> str:
    return f"{rule}:{session_id}:{subject}" if subject else f"{rule}:{session_id}"


@dataclass(frozen=True)
class Condition:
    """A rule that is not ok for a session right now (``severity`` warning or critical)."""

    rule: str
    session_id: str
    severity: str
    message: str
    subject: str = ""
    value: float | None = None
    threshold: float | None = None

    @property
    def key(self) -> str:
        return alert_key(self.rule, self.session_id, self.subject)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "key": self.key}
