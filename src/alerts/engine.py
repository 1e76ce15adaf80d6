"""The alert engine: evaluate rules, update the state, hand notifications to delivery.

One evaluation (:meth:`AlertEngine.evaluate`):

1. the source brings each session in scope up to date (reading only what was appended);
2. every enabled rule judges every session (:func:`src.alerts.rules.evaluate_session`);
3. under the state file's lock, the lifecycle updates the alerts and decides what to send;
   each notification is put in the state's outbox once per channel, and the state is
   written back atomically *before* anything is sent;
4. the outbox items are submitted to the per-channel delivery workers, which never block.

When a delivery ends (delivered, given up, dropped) its outbox item is removed, so a restart
(:meth:`AlertEngine.start`) sends exactly what was decided and not yet delivered: nothing is
sent twice because the state says what was announced, and nothing decided is forgotten.

:meth:`run` repeats evaluations every ``interval`` seconds until stopped; a failing
evaluation (an unreadable state file, a full disk) is logged and retried at the next tick.

One session never stops the others: when reading or judging a session fails, whatever the
cause, the session is named in :attr:`Evaluation.failed` (and logged), its alerts are left
as they were, and every other session is still evaluated.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from src.alerts.config import AlertsConfig
from src.alerts.delivery import Dispatcher, OutboxItem
from src.alerts.lifecycle import Policy, apply, open_alerts
from src.alerts.model import Condition
from src.alerts.rules import evaluate_session
from src.alerts.sources import Source, describe_failure
from src.alerts.state import StateError, StateStore

__all__ = ["AlertEngine", "Evaluation", "horizon_s", "open_alerts"]

log = logging.getLogger("src.alerts")


def horizon_s(config: AlertsConfig) -> float:
    """How much event time the windows must keep: the longest window of any rule."""
    rules = config.rules
    return max(rules.gate_rejection.window_s, rules.errors.window_s, rules.latency.window_s)


@dataclass
class Evaluation:
    """What one evaluation found and decided."""

    at: float
    sessions: list[str]
    conditions: list[Condition]
    notifications: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    # Sessions that could not be read or judged, with why: left out of this evaluation.
    failed: dict[str, str] = field(default_factory=dict)


class AlertEngine:
    """Rules over a source, lifecycle in a state file, delivery by a dispatcher.

    Without a ``store`` the engine only judges (a dry run: nothing recorded, nothing sent).
    """

    def __init__(
        self,
        config: AlertsConfig,
        source: Source,
        *,
        store: StateStore | None,
        dispatcher: Dispatcher | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.source = source
        self.store = store
        self.dispatcher = dispatcher
        self.clock = clock
        self.policy = Policy.from_config(config)
        self.evaluations = 0

    # -- delivery bookkeeping -------------------------------------------------------------
    def start(self) -> int:
        """Submit what the outbox still holds from a previous run; how many items."""
        if self.store is None or self.dispatcher is None:
            return 0
        try:
            pending = list(self.store.read()["outbox"])
        except StateError as exc:  # the first evaluation moves a corrupt file aside
            log.error("%s", exc)
            return 0
        for item in pending:
            self.dispatcher.submit(item)
        return len(pending)

    def delivered(self, item: OutboxItem, outcome: str) -> None:
        """``on_done`` of the dispatcher: the item leaves the outbox, the outcome is counted."""
        if self.store is None:
            return
        with self.store.update() as state:
            state["outbox"] = [i for i in state["outbox"] if i["id"] != item["id"]]
            stats = state.setdefault("delivery", {}).setdefault(
                item["channel"], {"ok": 0, "failed": 0, "dropped": 0}
            )
            stats[outcome] = stats.get(outcome, 0) + 1
            if outcome != "ok":
                stats["last_failure"] = {
                    "at": self.clock(),
                    "id": item["id"],
                    "key": item["notification"]["key"],
                    "outcome": outcome,
                }

    # -- evaluation ----------------------------------------------------------------------
    def evaluate(self, *, session: str | None = None, as_of: float | None = None) -> Evaluation:
        now = self.clock()
        at = now if as_of is None else as_of
        views, seen = self.source.views(at, session)
        failed = dict(getattr(self.source, "failed", {}))
        active_within = self.config.active_within_s
        conditions = []
        judged = []
        for view in views:
            try:
                found = evaluate_session(view, self.config.rules, active_within_s=active_within)
            except Exception as exc:
                failed[view.session_id] = describe_failure(exc)
                log.exception("alert rules failed on session %s; others go on", view.session_id)
                continue
            conditions.extend(found)
            judged.append(view.session_id)
        result = Evaluation(at, sorted(judged), conditions, failed=failed)
        self.evaluations += 1
        if self.store is None:
            return result
        channels = self.dispatcher.channels if self.dispatcher is not None else ()
        with self.store.update() as state:
            scope: set[str] | None = seen if session is not None else None
            if failed:  # a session not judged keeps its alerts as they are
                if scope is None:
                    scope = {rec["session_id"] for rec in state["alerts"].values()}
                scope = scope - set(failed)
            notes = apply(state, conditions, now, self.policy, sessions=scope)
            items = [
                {"id": f"{n['id']}/{ch}", "channel": ch, "notification": n, "created_at": now}
                for n in notes
                for ch in channels
            ]
            state["outbox"].extend(items)
            state["evaluated_at"] = now
            result.alerts = open_alerts(state, now)
            silences = [dict(s) for s in state["silences"]]
        result.notifications = notes
        if self.dispatcher is not None:
            for item in items:
                self.dispatcher.submit(item)
            # Channels that mirror the open alerts (Alertmanager re-posts them while firing).
            self.dispatcher.sync(result.alerts, silences, now)
        return result

    def run(self, stop: threading.Event, interval: float | None = None) -> None:
        """Evaluate every ``interval`` seconds (the config's by default) until ``stop``."""
        interval = self.config.interval_s if interval is None else interval
        while not stop.is_set():
            try:
                self.evaluate()
            except Exception:
                log.exception("alert evaluation failed; retrying in %gs", interval)
            stop.wait(interval)

    def close(self, timeout: float = 5.0) -> bool:
        """Stop delivery (draining up to ``timeout``) and the source. True if all drained."""
        drained = True
        if self.dispatcher is not None:
            drained = self.dispatcher.close(timeout)
        self.source.close()
        if self.store is not None:
            self.store.release()
        return drained
