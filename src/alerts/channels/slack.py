"""Slack-compatible incoming webhooks (Slack, Mattermost, Rocket.Chat): ``text`` + ``blocks``.

``text`` is the whole message in one line (notifications, clients without blocks); ``blocks``
lay it out: a header, the rule's message, the facts as fields, the alert key and dashboard
link as context. Text from the logs is escaped (``&``, ``<``, ``>``) so it cannot form links
or mentions.
"""

from __future__ import annotations

from typing import Any

from src.alerts import format as fmt
from src.alerts.channels.base import Channel
from src.alerts.channels.http import check_url, post_json, safe_target

__all__ = ["SlackChannel", "slack_payload"]

_MARK = {"critical": ":red_circle:", "warning": ":large_orange_circle:"}


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(note: dict[str, Any], dashboard_url: str = "") -> dict[str, Any]:
    mark = ":white_check_mark:" if note["event"] == "resolved" else _MARK.get(note["severity"], "")
    fields = [
        {"type": "mrkdwn", "text": f"*{label}*\n{_esc(value)}"}
        for label, value in fmt.details(note)
        if label not in ("Alert key", "Dashboard")
    ]
    context = f"alert `{_esc(note['key'])}` · notification {_esc(note['id'])}"
    link = fmt.session_link(note, dashboard_url)
    if link:
        context += f" · <{link}|open the session>"
    return {
        "text": _esc(fmt.text(note)),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": fmt.headline(note)[:150]}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"{mark} {_esc(note['message'])}"},
            },
            {"type": "section", "fields": fields[:10]},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        ],
    }


class SlackChannel(Channel):
    name = "slack"

    def __init__(self, url: str, *, dashboard_url: str = "") -> None:
        self._url = check_url(url, "the Slack webhook URL")
        self.target = safe_target(url)
        self.secrets = (url,)
        self.dashboard_url = dashboard_url

    def send(self, note: dict[str, Any], timeout: float) -> str:
        return post_json(self._url, slack_payload(note, self.dashboard_url), timeout=timeout)
