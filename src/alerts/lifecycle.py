"""Alert lifecycle: conditions in, alert records updated, notifications out.

An alert is identified by its key (``rule:session[:subject]``) and lives in the state file:

* a condition appears: the alert is ``pending`` while the rule's ``for_s`` has not passed,
  then ``firing``; with ``for_s = 0`` it fires at once;
* the condition disappears: a firing alert becomes ``resolved`` (a pending one is dropped);
  resolved alerts are kept ``keep_resolved_s`` for the record, then forgotten.

Notifications (what a human is told) are decided on every evaluation, from the record:

* **firing**: once per firing episode, unless the same alert was announced less than the
  rule's ``cooldown_s`` ago (a flapping condition pages once, not on every flap);
* **escalated**: the severity rose above what was announced (cooldown does not apply);
* **reminder**: still firing, nobody acknowledged it, ``renotify_s`` since the last message;
* **resolved**: the condition cleared and its firing was announced (``notify_resolved``).

Nothing is sent for a snoozed alert, nor below ``min_severity``; what was held back is sent
when that no longer applies (the snooze ends, the severity rises). A firing episode that was
announced is never announced again as new, which is what makes a restart safe: the record
says so. Acknowledgements and snoozes carry an expiry (``until``) and lapse by themselves; an
acknowledgement also ends with its episode.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from src.alerts.config import AlertsConfig
from src.alerts.model import SEVERITY_RANK, Condition

__all__ = ["Policy", "acknowledge", "apply", "matching", "open_alerts", "snooze", "unsnooze"]

Notification = dict[str, Any]


@dataclass(frozen=True)
class Policy:
    min_severity: str = "warning"
    renotify_s: float = 3600.0
    notify_resolved: bool = True
    keep_resolved_s: float = 86_400.0
    for_s: Mapping[str, float] = field(default_factory=dict)
    cooldown_s: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: AlertsConfig) -> Policy:
        rules = config.rules
        names = [f for f in type(rules).__dataclass_fields__]
        return cls(
            min_severity=config.min_severity,
            renotify_s=config.renotify_s,
            notify_resolved=config.notify_resolved,
            keep_resolved_s=config.keep_resolved_s,
            for_s={n: getattr(rules, n).for_s for n in names},
            cooldown_s={n: getattr(rules, n).cooldown_s for n in names},
        )


def matching(pattern: str, key: str) -> bool:
    """A key matches itself, a shell pattern (``latency:*``) or a rule / session prefix."""
    return key == pattern or fnmatch.fnmatchcase(key, pattern) or key.startswith(pattern + ":")


def _silence(state: dict[str, Any], key: str, now: float) -> dict[str, Any] | None:
    for s in state["silences"]:
        if s["until"] > now and matching(s["pattern"], key):
            return s
    return None


def _expire(state: dict[str, Any], now: float, policy: Policy) -> None:
    state["silences"] = [s for s in state["silences"] if s["until"] > now]
    for key, rec in list(state["alerts"].items()):
        ack = rec.get("ack")
        if ack and ack["until"] is not None and ack["until"] <= now:
            rec["ack"] = None
        if rec["status"] == "resolved" and now - rec["resolved_at"] > policy.keep_resolved_s:
            del state["alerts"][key]


def _new_record(c: Condition, now: float) -> dict[str, Any]:
    return {
        "key": c.key,
        "rule": c.rule,
        "session_id": c.session_id,
        "subject": c.subject,
        "status": "pending",
        "severity": c.severity,
        "message": c.message,
        "value": c.value,
        "threshold": c.threshold,
        "since": now,
        "fired_at": None,
        "resolved_at": None,
        "updated_at": now,
        "announced": None,  # severity announced for the current firing episode
        "notified_at": None,  # last notification of any kind
        "fire_notified_at": None,  # last firing/escalation notification (cooldown)
        "notifications": 0,
        "ack": None,
        "held": None,  # why the latest notification was held back
    }


def _notify(state: dict[str, Any], rec: dict[str, Any], event: str, now: float) -> Notification:
    state["seq"] = int(state.get("seq", 0)) + 1
    rec["notified_at"] = now
    rec["notifications"] += 1
    rec["held"] = None
    fields = ("key", "rule", "session_id", "subject", "severity", "message", "value", "threshold")
    out = {name: rec[name] for name in fields}
    out.update(
        id=f"n-{state['seq']}",
        event=event,
        status=rec["status"],
        at=now,
        fired_at=rec["fired_at"],
        resolved_at=rec["resolved_at"],
        acked_by=(rec["ack"] or {}).get("by"),
    )
    return out


def apply(
    state: dict[str, Any],
    conditions: Iterable[Condition],
    now: float,
    policy: Policy,
    *,
    sessions: set[str] | None = None,
) -> list[Notification]:
    """Bring ``state["alerts"]`` up to date with this evaluation; return what to send.

    ``sessions``: the sessions this evaluation looked at (``None``: all). Alerts of other
    sessions are left as they are (a ``--session`` run does not resolve the rest).
    """
    _expire(state, now, policy)
    alerts: dict[str, dict[str, Any]] = state["alerts"]
    present: dict[str, Condition] = {}
    for c in conditions:
        seen = present.get(c.key)
        if seen is None or SEVERITY_RANK[c.severity] > SEVERITY_RANK[seen.severity]:
            present[c.key] = c
    out: list[Notification] = []
    for key, c in present.items():
        rec = alerts.get(key)
        if rec is None or rec["status"] == "resolved":
            fresh = _new_record(c, now)
            if rec is not None:  # the same alert again: keep its history for cooldown
                fresh["fire_notified_at"] = rec["fire_notified_at"]
                fresh["notifications"] = rec["notifications"]
            rec = alerts[key] = fresh
        rec.update(
            severity=c.severity,
            message=c.message,
            value=c.value,
            threshold=c.threshold,
            updated_at=now,
        )
        if rec["status"] == "pending" and now - rec["since"] >= policy.for_s.get(c.rule, 0.0):
            rec["status"] = "firing"
            rec["fired_at"] = now
        if rec["status"] == "firing":
            note = _firing_notification(state, rec, now, policy)
            if note is not None:
                out.append(note)
    for key, rec in list(alerts.items()):
        if key in present or rec["status"] == "resolved":
            continue
        if sessions is not None and rec["session_id"] not in sessions:
            continue
        if rec["status"] == "pending":
            del alerts[key]
            continue
        rec["status"] = "resolved"
        rec["resolved_at"] = rec["updated_at"] = now
        rec["ack"] = None
        announced = rec["announced"] is not None
        rec["announced"] = None
        if announced and policy.notify_resolved and _silence(state, key, now) is None:
            out.append(_notify(state, rec, "resolved", now))
    return out


def _firing_notification(
    state: dict[str, Any], rec: dict[str, Any], now: float, policy: Policy
) -> Notification | None:
    severity = rec["severity"]
    silence = _silence(state, rec["key"], now)
    if silence is not None:
        rec["held"] = f"snoozed until {silence['until']:.0f} ({silence['id']})"
        return None
    if SEVERITY_RANK[severity] < SEVERITY_RANK[policy.min_severity]:
        rec["held"] = f"below min_severity {policy.min_severity}"
        return None
    announced = rec["announced"]
    if announced is None:
        last = rec["fire_notified_at"]
        cooldown = policy.cooldown_s.get(rec["rule"], 0.0)
        if last is not None and now - last < cooldown:
            rec["held"] = f"cooldown: announced {now - last:.0f}s ago (cooldown {cooldown:g}s)"
            return None
        event = "firing"
    elif SEVERITY_RANK[severity] > SEVERITY_RANK[announced]:
        event = "escalated"
    elif (
        policy.renotify_s
        and rec["ack"] is None
        and rec["notified_at"] is not None
        and now - rec["notified_at"] >= policy.renotify_s
    ):
        event = "reminder"
    else:
        return None
    if event != "reminder":
        rec["announced"] = severity
        rec["fire_notified_at"] = now
    return _notify(state, rec, event, now)


def acknowledge(
    state: dict[str, Any],
    pattern: str,
    *,
    by: str,
    until: float | None,
    note: str,
    now: float,
) -> list[str]:
    """Acknowledge the open (pending or firing) alerts matching ``pattern``; their keys."""
    keys = []
    for key, rec in state["alerts"].items():
        if rec["status"] != "resolved" and matching(pattern, key):
            rec["ack"] = {"by": by, "at": now, "until": until, "note": note}
            keys.append(key)
    return sorted(keys)


def snooze(
    state: dict[str, Any], pattern: str, *, until: float, by: str, reason: str, now: float
) -> dict[str, Any]:
    """Hold back every notification for keys matching ``pattern`` until ``until``."""
    state["seq"] = int(state.get("seq", 0)) + 1
    silence = {
        "id": f"s-{state['seq']}",
        "pattern": pattern,
        "until": until,
        "by": by,
        "reason": reason,
        "created_at": now,
    }
    state["silences"].append(silence)
    return silence


def unsnooze(state: dict[str, Any], target: str) -> list[dict[str, Any]]:
    """Remove the snoozes whose id or pattern is ``target``; the removed ones."""
    removed = [s for s in state["silences"] if target in (s["id"], s["pattern"])]
    state["silences"] = [s for s in state["silences"] if s not in removed]
    return removed


def open_alerts(state: dict[str, Any], now: float) -> list[dict[str, Any]]:
    """Pending and firing alerts, worst first, each marked ``acked`` and ``snoozed``."""
    out = []
    for rec in state["alerts"].values():
        if rec["status"] == "resolved":
            continue
        ack = rec.get("ack")
        acked = bool(ack) and (ack["until"] is None or ack["until"] > now)
        snoozed = any(
            s["until"] > now and matching(s["pattern"], rec["key"]) for s in state["silences"]
        )
        out.append({**rec, "acked": acked, "snoozed": snoozed})
    out.sort(key=lambda r: (-SEVERITY_RANK[r["severity"]], r["key"]))
    return out
