"""The channel contract: ``send(notification, timeout)``, success or a :class:`DeliveryError`.

A channel makes one attempt; retries, back-off and the record of attempts belong to the
delivery worker (:mod:`src.alerts.delivery`). A channel knows its secrets (webhook URL, SMTP
password) so the worker can scrub them from any error text before it is logged, and
describes its destination as ``target`` without them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

__all__ = ["Channel", "DeliveryError", "scrub"]


class DeliveryError(Exception):
    """One failed attempt. ``retryable``: worth trying again (timeouts, 5xx, 429, 4xx SMTP)."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


class Channel(ABC):
    name: str = "channel"
    target: str = ""
    secrets: tuple[str, ...] = ()

    @abstractmethod
    def send(self, note: dict[str, Any], timeout: float) -> str:
        """Deliver one notification; return a short outcome (``HTTP 200``, ``250 OK``)."""


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret (and its URL-quoted form) replaced by ``***``."""
    from urllib.parse import quote

    for secret in secrets:
        if secret:
            text = text.replace(secret, "***").replace(quote(secret, safe=""), "***")
    return text
