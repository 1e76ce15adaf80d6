"""Alertmanager (API v2): the engine's alerts join the rest of the desk's, where its routing,
grouping, inhibition and silences apply.

An alert is identified in Alertmanager by its labels, so they are stable for an alert's
whole life: ``alertname`` and ``rule`` (the engine's rule), ``severity``, ``session``,
``subject`` (the gate or latency leg, when the rule names one), ``symbol`` (when the
notification carries one) and ``source="telemetry-alerts"``. Annotations: ``summary``,
``description``, ``runbook_url`` and, with ``dashboard_url`` set, ``dashboard_url`` (also the
alert's ``generatorURL``).

* **Firing** (and escalated, reminder): the alert is posted with its ``startsAt``. Posting
  goes through the delivery worker like every channel (retries, the delivery log).
* **Re-posting**: Alertmanager resolves an alert it has not heard of for its
  ``resolve_timeout`` (5 minutes by default), so the engine hands every evaluation's open
  alerts to :meth:`AlertmanagerChannel.sync`; a thread of the channel posts the firing ones
  again every ``repost_s`` (60 s by default: keep it well under ``resolve_timeout``), and at
  once when the set changes. After a restart, the first evaluation posts them all again.
* **Escalated**: the new severity is another label set, so the old one is posted as ended.
* **Resolved**: posted with ``endsAt`` (the resolution time); an alert that leaves the open
  set without a resolved notification (``notify_resolved = false``) is ended too.
* **Acknowledged or snoozed** (``telemetry-alerts ack`` / ``snooze``): Alertmanager has no
  acknowledgement, so both become a *silence* on the alert's ``rule``, ``session`` and
  ``subject`` labels (any severity), created through ``/api/v2/silences`` with the ack's or
  snooze's author, note and end (an ack without an end: 7 days, and the silence is expired
  when the alert resolves or the ack is withdrawn). The alert is still posted, so it stays
  visible and does not resolve by timeout. Silences found on start with the channel's
  comment prefix are adopted, not duplicated.

Nothing the background thread does raises: failures are counted (:attr:`counts`,
``repost_failed``, ``silence_failed``) and logged, and the engine goes on.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from src.alerts import format as fmt
from src.alerts.channels.base import Channel, DeliveryError
from src.alerts.channels.http import USER_AGENT, check_url, post_json, safe_target
from src.alerts.lifecycle import matching

__all__ = ["SILENCE_COMMENT", "AlertmanagerChannel", "am_alert", "rfc3339"]

log = logging.getLogger("src.alerts.channels.alertmanager")

SOURCE = "telemetry-alerts"
SILENCE_COMMENT = "telemetry-alerts:"  # prefix of the silences this channel manages
OPEN_ACK_S = 7 * 86_400.0  # an acknowledgement without an end
RUNBOOK = "docs/runbook.md#alerts-what-paged-you-and-what-to-do-with-it"


def rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _labels(rec: Mapping[str, Any], severity: str | None = None) -> dict[str, str]:
    labels = {
        "alertname": str(rec["rule"]),
        "rule": str(rec["rule"]),
        "severity": str(severity or rec["severity"]),
        "session": str(rec["session_id"]),
        "source": SOURCE,
    }
    if rec.get("subject"):
        labels["subject"] = str(rec["subject"])
    if rec.get("symbol"):
        labels["symbol"] = str(rec["symbol"])
    return labels


def am_alert(
    rec: Mapping[str, Any],
    *,
    ends_at: float | None = None,
    severity: str | None = None,
    runbook_url: str = RUNBOOK,
    dashboard_url: str = "",
) -> dict[str, Any]:
    """One alert of Alertmanager's ``POST /api/v2/alerts`` body, from a notification or an
    alert record of the state file (both have rule, session_id, subject, severity, message
    and fired_at)."""
    where = f"{rec['rule']} on {rec['session_id']}"
    if rec.get("subject"):
        where += f" ({rec['subject']})"
    annotations = {
        "summary": f"{str(severity or rec['severity']).upper()} {where}",
        "description": str(rec.get("message") or ""),
        "runbook_url": runbook_url,
    }
    alert: dict[str, Any] = {
        "labels": _labels(rec, severity),
        "annotations": annotations,
    }
    link = fmt.session_link(dict(rec), dashboard_url)
    if link:
        annotations["dashboard_url"] = link
        alert["generatorURL"] = link
    started = rec.get("fired_at") or rec.get("at")
    if isinstance(started, (int, float)):
        alert["startsAt"] = rfc3339(started)
    if ends_at is not None:
        alert["endsAt"] = rfc3339(ends_at)
    return alert


def _silence_key(labels: Mapping[str, str]) -> tuple[str, str, str]:
    return labels["rule"], labels["session"], labels.get("subject", "")


class AlertmanagerChannel(Channel):
    name = "alertmanager"

    def __init__(
        self,
        url: str,
        *,
        token: str = "",
        repost_s: float = 60.0,
        silences: bool = True,
        runbook_url: str = "",
        dashboard_url: str = "",
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._base = check_url(url, "the Alertmanager URL").rstrip("/")
        self._token = token
        self.target = safe_target(url)
        self.secrets = tuple(s for s in (token,) if s)
        self.repost_s = repost_s
        self.silences = silences
        self.runbook_url = runbook_url or RUNBOOK
        self.dashboard_url = dashboard_url
        self.timeout_s = timeout_s
        self.clock = clock
        self.counts = {"reposted": 0, "repost_failed": 0, "silenced": 0, "silence_failed": 0}
        self.last_error = ""
        self._lock = threading.Lock()  # the snapshot and what was posted
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._snapshot: tuple[list[dict[str, Any]], list[dict[str, Any]], float] | None = None
        self._posted: dict[str, dict[str, str]] = {}  # key -> labels last posted firing
        self._ended: dict[str, float] = {}  # key -> when its resolution was posted
        self._last_post = 0.0
        self._managed: dict[tuple[str, str, str], tuple[str, float]] = {}  # -> (id, endsAt)
        self._adopted = False

    # -- one notification (the delivery worker) --------------------------------------------
    def send(self, note: dict[str, Any], timeout: float) -> str:
        event = note["event"]
        alerts = []
        if event == "resolved":
            # (never in the future: Alertmanager would keep the alert active until then)
            ended = min(note.get("resolved_at") or note["at"], self.clock())
            alerts.append(self._alert(note, ends_at=ended))
            with self._lock:
                self._posted.pop(note["key"], None)
                self._ended[note["key"]] = ended
        elif event == "test":
            alerts.append(self._alert(note, ends_at=note["at"] + 300.0))
        else:
            if event == "escalated":  # the lower severity's label set ends now
                for lower in ("warning",):
                    if lower != note["severity"]:
                        ended = min(note["at"], self.clock())
                        alerts.append(self._alert(note, ends_at=ended, severity=lower))
            alerts.append(self._alert(note))
            with self._lock:
                self._posted[note["key"]] = _labels(note)
                self._ended.pop(note["key"], None)
        return self._post_alerts(alerts, timeout)

    # -- every evaluation (the engine) ------------------------------------------------------
    def sync(
        self, alerts: Iterable[Mapping[str, Any]], silences: Iterable[Mapping[str, Any]], now: float
    ) -> None:
        """The open alerts (``open_alerts``) and snoozes of this evaluation; never blocks."""
        snapshot = ([dict(a) for a in alerts], [dict(s) for s in silences], now)
        with self._lock:
            self._snapshot = snapshot
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=self._run, name="alerts-alertmanager-sync", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.repost_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self._reconcile()
            except Exception as exc:  # never let the thread die: count, log, go on
                self._failed("repost_failed", f"{type(exc).__name__}: {exc}")

    def _reconcile(self) -> None:
        with self._lock:
            if self._snapshot is None:
                return
            alerts, snoozes, taken = self._snapshot
            firing = {
                a["key"]: a
                for a in alerts
                if a.get("status") == "firing"
                and a.get("announced") is not None
                and self._ended.get(a["key"], -1.0) < (a.get("fired_at") or 0.0)
            }
            gone = [k for k in self._posted if k not in firing]
            open_keys = {a["key"] for a in alerts}
            for key in [k for k in self._ended if k not in open_keys]:
                del self._ended[key]  # its resolution is in the past snapshot's too
            changed = bool(gone) or any(
                self._posted.get(k) != _labels(a) for k, a in firing.items()
            )
        now = self.clock()
        due = changed or now - self._last_post >= self.repost_s
        if due and (firing or gone):
            body = [self._alert(a) for a in firing.values()]
            with self._lock:
                for key in gone:
                    labels = self._posted[key]
                    body.append({"labels": labels, "endsAt": rfc3339(now)})
                # a severity that changed without an escalation (it went down): end the old
                for key, a in firing.items():
                    old = self._posted.get(key)
                    if old is not None and old != _labels(a):
                        body.append({"labels": old, "endsAt": rfc3339(now)})
            try:
                self._post_alerts(body, self.timeout_s)
            except DeliveryError as exc:
                self._failed("repost_failed", str(exc))
            else:
                self.counts["reposted"] += 1
                self._last_post = now
                with self._lock:
                    for key in gone:
                        self._posted.pop(key, None)
                    for key, a in firing.items():
                        self._posted[key] = _labels(a)
        if self.silences:
            self._reconcile_silences(firing, snoozes, taken)

    # -- acks and snoozes as silences -------------------------------------------------------
    def _wanted_silences(
        self, firing: Mapping[str, Mapping[str, Any]], snoozes: list[dict[str, Any]], now: float
    ) -> dict[tuple[str, str, str], tuple[float, str, str]]:
        wanted: dict[tuple[str, str, str], tuple[float, str, str]] = {}
        for key, a in firing.items():
            until, by, why = 0.0, "", ""
            ack = a.get("ack")
            if a.get("acked") and ack:
                until = ack.get("until") or now + OPEN_ACK_S
                by, why = str(ack.get("by") or ""), f"acknowledged: {ack.get('note') or ''}"
            for s in snoozes:
                if s["until"] > now and matching(s["pattern"], key) and s["until"] > until:
                    until, by = float(s["until"]), str(s.get("by") or "")
                    why = f"snoozed ({s['id']}): {s.get('reason') or ''}"
            if until > now:
                wanted[_silence_key(_labels(a))] = (until, by or SOURCE, why.strip())
        return wanted

    def _reconcile_silences(
        self, firing: Mapping[str, Mapping[str, Any]], snoozes: list[dict[str, Any]], now: float
    ) -> None:
        try:
            if not self._adopted:
                self._adopt()
            wanted = self._wanted_silences(firing, snoozes, now)
            for key, (until, by, why) in wanted.items():
                have = self._managed.get(key)
                if have is not None and abs(have[1] - until) < 1.0:
                    continue
                body: dict[str, Any] = {
                    "matchers": [
                        {"name": "rule", "value": key[0], "isRegex": False, "isEqual": True},
                        {"name": "session", "value": key[1], "isRegex": False, "isEqual": True},
                        {"name": "subject", "value": key[2], "isRegex": False, "isEqual": True},
                    ],
                    "startsAt": rfc3339(now),
                    "endsAt": rfc3339(until),
                    "createdBy": by,
                    "comment": f"{SILENCE_COMMENT} {why}",
                }
                if have is not None:
                    body["id"] = have[0]
                answer = self._request("POST", "/api/v2/silences", body)
                self._managed[key] = (str(answer["silenceID"]), until)
                self.counts["silenced"] += 1
            for key in [k for k in self._managed if k not in wanted]:
                silence_id = self._managed.pop(key)[0]
                self._request("DELETE", f"/api/v2/silence/{silence_id}", None)
        except (DeliveryError, KeyError, TypeError, ValueError) as exc:
            self._failed("silence_failed", str(exc))

    def _adopt(self) -> None:
        """Take over the active silences an earlier run of the channel created."""
        for s in self._request("GET", "/api/v2/silences", None) or []:
            if (s.get("status") or {}).get("state") != "active":
                continue
            if not str(s.get("comment", "")).startswith(SILENCE_COMMENT):
                continue
            m = {x["name"]: x["value"] for x in s.get("matchers", [])}
            if {"rule", "session", "subject"} <= set(m):
                ends = datetime.fromisoformat(s["endsAt"].replace("Z", "+00:00")).timestamp()
                self._managed[(m["rule"], m["session"], m["subject"])] = (s["id"], ends)
        self._adopted = True

    # -- HTTP ------------------------------------------------------------------------------
    def _alert(
        self, rec: Mapping[str, Any], ends_at: float | None = None, severity: str | None = None
    ) -> dict[str, Any]:
        return am_alert(
            rec,
            ends_at=ends_at,
            severity=severity,
            runbook_url=self.runbook_url,
            dashboard_url=self.dashboard_url,
        )

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def _post_alerts(self, alerts: list[dict[str, Any]], timeout: float) -> str:
        return post_json(
            f"{self._base}/api/v2/alerts",
            alerts,  # the API takes a JSON array
            timeout=timeout,
            headers=self._headers(),
        )

    def _request(self, method: str, path: str, body: Any) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **self._headers()}
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            self._base + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                raw = response.read(1 << 20)
        except urllib.error.HTTPError as exc:
            exc.close()
            raise DeliveryError(
                f"{method} {path}: HTTP {exc.code}", retryable=exc.code >= 500, status=exc.code
            ) from None
        except urllib.error.URLError as exc:
            raise DeliveryError(
                f"{method} {path}: connection failed: {exc.reason}", retryable=True
            ) from None
        except (OSError, ValueError) as exc:
            raise DeliveryError(f"{method} {path}: {exc}", retryable=True) from None
        return json.loads(raw) if raw.strip() else None

    def _failed(self, what: str, detail: str) -> None:
        self.counts[what] += 1
        self.last_error = detail
        log.warning("alertmanager channel: %s: %s", what.replace("_", " "), detail)
