"""POSTing JSON with the standard library: one attempt, its outcome as success or error."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from src.alerts.channels.base import DeliveryError

__all__ = ["USER_AGENT", "check_url", "post_json", "safe_target"]

USER_AGENT = "telemetry-alerts/0.1"
_RETRY_STATUS = frozenset({408, 425, 429})


def check_url(url: str, what: str) -> str:
    """``url`` if it is an absolute http(s) URL; ``ValueError`` naming ``what`` otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # Never echo the value: it is a secret.
        raise ValueError(f"{what} is not an http(s) URL")
    return url


def safe_target(url: str) -> str:
    """``scheme://host:port`` only: webhook paths and queries often carry the secret."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def post_json(
    url: str, payload: dict[str, Any], *, timeout: float, headers: dict[str, str] | None = None
) -> str:
    body = json.dumps(payload, separators=(",", ":"), default=str).encode()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read(1 << 16)
            return f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        status = exc.code
        exc.close()
        retryable = status in _RETRY_STATUS or status >= 500
        raise DeliveryError(
            f"HTTP {status} {exc.reason}", retryable=retryable, status=status
        ) from None
    except urllib.error.URLError as exc:
        raise DeliveryError(f"connection failed: {exc.reason}", retryable=True) from None
    except TimeoutError:
        raise DeliveryError(f"timed out after {timeout:g}s", retryable=True) from None
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True) from None
