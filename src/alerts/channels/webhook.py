"""A generic JSON webhook: the whole notification, for pagers, ticketing, chat bridges.

The document is ``{"version": 1, "source": "telemetry-alerts", "text": ..., "notification":
{...}}``; the notification has the alert key, rule, session, subject, severity, event
(firing, escalated, reminder, resolved), message, value, threshold and times. The
``Idempotency-Key`` header (notification id and channel) lets a receiver drop the duplicate
a retry after a lost response can cause.
"""

from __future__ import annotations

from typing import Any

from src.alerts import format as fmt
from src.alerts.channels.base import Channel
from src.alerts.channels.http import check_url, post_json, safe_target

__all__ = ["WebhookChannel", "webhook_payload"]


def webhook_payload(note: dict[str, Any], dashboard_url: str = "") -> dict[str, Any]:
    return {
        "version": 1,
        "source": "telemetry-alerts",
        "text": fmt.text(note),
        "link": fmt.session_link(note, dashboard_url),
        "notification": note,
    }


class WebhookChannel(Channel):
    name = "webhook"

    def __init__(self, url: str, *, token: str = "", dashboard_url: str = "") -> None:
        self._url = check_url(url, "the webhook URL")
        self._token = token
        self.target = safe_target(url)
        self.secrets = tuple(s for s in (url, token) if s)
        self.dashboard_url = dashboard_url

    def send(self, note: dict[str, Any], timeout: float) -> str:
        headers = {"Idempotency-Key": f"{note['id']}/{self.name}"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return post_json(
            self._url, webhook_payload(note, self.dashboard_url), timeout=timeout, headers=headers
        )
